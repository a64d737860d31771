package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/bench/internal/cases"
	"github.com/todo-platform/todo/pkg/proc"
)

// services are the three running processes and the clients that reach them.
type services struct {
	servers  []*proc.Server
	procs    []*proc.Process
	conns    []*grpc.ClientConn
	user     userv1.UserServiceClient
	task     taskv1.TaskServiceClient
	http     *http.Client
	base     string
	stopped  bool
	stopErrs error
}

// startServices starts user-service, task-service and gateway on loopback
// listeners against the database at userURL and taskURL (each service's own
// login role), each once the one before it is
// ready (the services SERVING on grpc.health.v1, the gateway's /readyz
// reporting both ready). Their output goes to files in the work directory.
func (b *bench) startServices(ctx context.Context, label, userURL, taskURL string) (_ *services, err error) {
	s := &services{}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	// Every listener is bound first, so that each process can be given the
	// addresses of the others.
	addr := map[string]string{}
	for _, name := range processes {
		lis, err := proc.Listen()
		if err != nil {
			return nil, err
		}
		addr[name] = lis.Addr().String()
		spec := proc.Spec{
			Name: name, Path: filepath.Join(b.cfg.Bin, name), Args: []string{"serve"},
			AddrEnv: "GRPC_ADDR", AdminAddrEnv: "ADMIN_ADDR", Ready: proc.GRPCHealth(""),
			LogPath: filepath.Join(b.work, label+"-"+name+".log"),
		}
		switch name {
		case "user-service":
			spec.Env = []string{"DATABASE_URL=" + userURL, "TOKEN_PRIVATE_KEY_FILE=" + b.keyFile, "DATA_KEYRING_FILE=" + b.keyringFile, "ACCESS_TOKEN_TTL=2h"}
		case "task-service":
			spec.Env = []string{"DATABASE_URL=" + taskURL, "USER_SERVICE_ADDR=" + addr["user-service"]}
		case "gateway":
			spec.Args, spec.AddrEnv, spec.Ready = nil, "HTTP_ADDR", proc.HTTPOK("/readyz")
			spec.Env = []string{"USER_SERVICE_ADDR=" + addr["user-service"], "TASK_SERVICE_ADDR=" + addr["task-service"]}
		}
		srv, err := proc.NewServer(lis, spec)
		if err != nil {
			lis.Close()
			return nil, err
		}
		s.servers = append(s.servers, srv)
	}
	for _, srv := range s.servers {
		p, err := srv.Start(ctx)
		if err != nil {
			return nil, err
		}
		s.procs = append(s.procs, p)
	}
	for _, name := range []string{"user-service", "task-service"} {
		conn, err := grpc.NewClient(addr[name], grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", name, err)
		}
		s.conns = append(s.conns, conn)
	}
	s.user = userv1.NewUserServiceClient(s.conns[0])
	s.task = taskv1.NewTaskServiceClient(s.conns[1])
	s.http = &http.Client{Transport: &http.Transport{
		MaxIdleConns:        4 * b.cfg.Concurrency,
		MaxIdleConnsPerHost: 4 * b.cfg.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}}
	s.base = "http://" + addr["gateway"]
	say("%s: services ready (user %s, task %s, gateway %s)", label, addr["user-service"], addr["task-service"], addr["gateway"])
	return s, nil
}

// alive returns an error naming the first process that has exited.
func (s *services) alive() error {
	for _, p := range s.procs {
		if !p.Running() {
			return fmt.Errorf("%s %w: %v: %s", p.Name(), errStopped, p.Wait(), p.Tail(2000))
		}
	}
	return nil
}

func (s *services) targets() cases.Targets {
	return cases.Targets{Task: s.task, User: s.user, HTTP: s.http, Base: s.base}
}

// stop closes the clients and stops the processes in reverse start order.
// It is idempotent and returns the first call's errors.
func (s *services) stop() error {
	if s.stopped {
		return s.stopErrs
	}
	s.stopped = true
	for _, c := range s.conns {
		c.Close()
	}
	if s.http != nil {
		s.http.CloseIdleConnections()
	}
	var errs []error
	for i := len(s.servers) - 1; i >= 0; i-- {
		if err := s.servers[i].Stop(15 * time.Second); err != nil {
			errs = append(errs, fmt.Errorf("%w; log: %s", err, s.servers[i].Process().Tail(1500)))
		}
		_ = s.servers[i].Close()
	}
	s.stopErrs = errors.Join(errs...)
	return s.stopErrs
}

// migrate runs "<bin> migrate up" against dsn.
func migrate(ctx context.Context, bin, dsn string) error {
	cmd := exec.CommandContext(ctx, bin, "migrate", "up")
	cmd.Env = []string{"DATABASE_URL=" + dsn}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s migrate up: %w\n%s", filepath.Base(bin), err, out)
	}
	return nil
}

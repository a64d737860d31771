package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/bench/internal/cases"
	"github.com/todo-platform/todo/bench/internal/procs"
)

// services are the three running processes and the clients that reach them.
type services struct {
	procs    []*procs.Process
	conns    []*grpc.ClientConn
	user     userv1.UserServiceClient
	task     taskv1.TaskServiceClient
	http     *http.Client
	base     string
	stopped  bool
	stopErrs error
}

// startServices starts user-service, task-service and gateway on free
// loopback ports against the database at appURL, and waits until the
// gateway reports both services ready.
func (b *bench) startServices(ctx context.Context, label, appURL string) (_ *services, err error) {
	s := &services{}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	var ports [3]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	userAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	taskAddr := "127.0.0.1:" + strconv.Itoa(ports[1])
	httpAddr := "127.0.0.1:" + strconv.Itoa(ports[2])
	envs := map[string][]string{
		"user-service": {"DATABASE_URL=" + appURL, "GRPC_ADDR=" + userAddr, "TOKEN_PRIVATE_KEY_FILE=" + b.keyFile,
			"ACCESS_TOKEN_TTL=2h"},
		"task-service": {"DATABASE_URL=" + appURL, "GRPC_ADDR=" + taskAddr, "USER_SERVICE_ADDR=" + userAddr},
		"gateway":      {"HTTP_ADDR=" + httpAddr, "USER_SERVICE_ADDR=" + userAddr, "TASK_SERVICE_ADDR=" + taskAddr},
	}
	for _, name := range processes {
		p, err := procs.Start(name, filepath.Join(b.cfg.Bin, name), []string{"serve"}, envs[name],
			filepath.Join(b.work, label+"-"+name+".log"))
		if err != nil {
			return nil, err
		}
		s.procs = append(s.procs, p)
	}
	for _, addr := range []string{userAddr, taskAddr} {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
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
	s.base = "http://" + httpAddr

	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := s.alive(); err != nil {
			return nil, err
		}
		if err := s.ready(ctx); err == nil {
			break
		} else if time.Now().After(deadline) {
			return nil, fmt.Errorf("services not ready after 60s: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	say("%s: services ready (user %s, task %s, gateway %s)", label, userAddr, taskAddr, httpAddr)
	return s, nil
}

// ready returns nil when both services report SERVING and the gateway's
// /readyz answers 200.
func (s *services) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for i, conn := range s.conns {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return fmt.Errorf("%s health: %w", processes[i], err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("%s health: %v", processes[i], resp.GetStatus())
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("gateway /readyz: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("gateway /readyz: %s", resp.Status)
	}
	return nil
}

// alive returns an error naming the first process that has exited.
func (s *services) alive() error {
	for _, p := range s.procs {
		select {
		case <-p.Exited():
			return fmt.Errorf("%s %w: %s", p.Name, errStopped, p.LogTail(2000))
		default:
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
	for i := len(s.procs) - 1; i >= 0; i-- {
		if err := s.procs[i].Stop(15 * time.Second); err != nil {
			errs = append(errs, err)
		}
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

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

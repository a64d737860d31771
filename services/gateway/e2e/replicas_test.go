package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth/keyfile"
	"github.com/todo-platform/todo/pkg/keyring/keyringtest"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/proc"
	"github.com/todo-platform/todo/pkg/proctest"
)

// TestReplicas_BalancedAndStoppingOneLosesNoRead runs two instances of the
// user service and two of the task service, both task services and the
// gateway given both user services (USER_SERVICE_ADDR as a list) and the
// gateway both task services. Both instances of each service receive calls
// (the user services' BatchGetUsers come from the task services, so the
// task → user hop is balanced too); then, under a load of GetTask,
// ListTasks and GetCurrentUser through the gateway, one task service and
// one user service go away, and no call fails: the gateway's and the
// task services' connections leave a stopping instance out (health
// checking) and retry a read that it could not answer (the retry policy
// for the idempotent methods). The task service is killed (SIGKILL, as in
// a crash), the user service stopped gracefully (SIGTERM).
func TestReplicas_BalancedAndStoppingOneLosesNoRead(t *testing.T) {
	db := pgtest.New(t)
	const module = "github.com/todo-platform/todo/services/"
	key := filepath.Join(t.TempDir(), "token.pem")
	if err := keyfile.WritePrivate(key); err != nil {
		t.Fatal(err)
	}
	_, ringFile := keyringtest.New(t)
	userBin, taskBin, gatewayBin := proctest.Build(t, module+"user"), proctest.Build(t, module+"task"), proctest.Build(t, module+"gateway")

	var users, tasks [2]*proctest.Server
	for i := range users {
		users[i] = proctest.NewServer(t, proc.Spec{
			Name: fmt.Sprintf("user-service-%d", i+1), Path: userBin, Args: []string{"serve"}, AddrEnv: "GRPC_ADDR", AdminAddrEnv: "ADMIN_ADDR",
			Env:   []string{"DATABASE_URL=" + db.UserAppURL, "TOKEN_PRIVATE_KEY_FILE=" + key, "DATA_KEYRING_FILE=" + ringFile},
			Ready: proc.GRPCHealth(userv1.UserService_ServiceDesc.ServiceName),
		})
	}
	userAddrs := users[0].Addr() + "," + users[1].Addr()
	for i := range tasks {
		tasks[i] = proctest.NewServer(t, proc.Spec{
			Name: fmt.Sprintf("task-service-%d", i+1), Path: taskBin, Args: []string{"serve"}, AddrEnv: "GRPC_ADDR", AdminAddrEnv: "ADMIN_ADDR",
			Env:   []string{"DATABASE_URL=" + db.TaskAppURL, "USER_SERVICE_ADDR=" + userAddrs},
			Ready: proc.GRPCHealth(taskv1.TaskService_ServiceDesc.ServiceName),
		})
	}
	gateway := proctest.NewServer(t, proc.Spec{
		Name: "gateway", Path: gatewayBin, AddrEnv: "HTTP_ADDR", AdminAddrEnv: "ADMIN_ADDR",
		Env:   []string{"USER_SERVICE_ADDR=" + userAddrs, "TASK_SERVICE_ADDR=" + tasks[0].Addr() + "," + tasks[1].Addr()},
		Ready: proc.HTTPOK("/readyz"),
	})
	for _, s := range slices.Concat(users[:], tasks[:], []*proctest.Server{gateway}) {
		s.Start(t)
	}
	s := &stack{t: t, db: db, baseURL: "http://" + gateway.Addr(), http: newContractClientVia(t, http.DefaultTransport)}
	anon := s.anon()
	const pw = "correct horse battery"
	signUp(t, anon, "ann", pw)
	bobID := signUp(t, anon, "bob", pw)
	annToken := logIn(t, anon, "ann", pw)
	ann := anon.as(annToken)

	// Assigning asks the user service (BatchGetUsers) from a task service;
	// round_robin spreads both hops over both instances within a few calls.
	var taskIDs []string
	handled := func(p *proctest.Server, method string) float64 {
		n, _ := sum(scrape(t, p.AdminAddr()), "grpc_server_handled_total", map[string]string{"grpc_method": method})
		return n
	}
	waitFor(t, 30*time.Second, "every instance to receive calls", func() bool {
		id := str(t, ann.ok("POST", "/v1/tasks", obj{"title": fmt.Sprintf("task %d", len(taskIDs)+1)}), "id")
		ann.ok("POST", "/v1/tasks/"+id+":assign", obj{"assignee_id": bobID})
		taskIDs = append(taskIDs, id)
		writes := func(p *proctest.Server) float64 { return handled(p, "CreateTask") + handled(p, "AssignTask") }
		// The gateway's sign-ups and logins reached both user services
		// too (three calls, round_robin over two).
		fromGateway := func(p *proctest.Server) float64 { return handled(p, "CreateUser") + handled(p, "Login") }
		return writes(tasks[0]) > 0 && writes(tasks[1]) > 0 &&
			fromGateway(users[0]) > 0 && fromGateway(users[1]) > 0 &&
			handled(users[0], "BatchGetUsers") > 0 && handled(users[1], "BatchGetUsers") > 0
	})
	for _, p := range slices.Concat(tasks[:], users[:]) {
		t.Logf("%s: CreateUser %v, Login %v, CreateTask %v, AssignTask %v, BatchGetUsers %v", p.Name(),
			handled(p, "CreateUser"), handled(p, "Login"), handled(p, "CreateTask"), handled(p, "AssignTask"), handled(p, "BatchGetUsers"))
	}

	// The load: reads only, from four clients, until both instances have
	// been stopped and every client has made another 100 calls.
	var (
		calls, failures atomic.Int64
		stopped         atomic.Bool
		mu              sync.Mutex
		failed          []string
		wg              sync.WaitGroup
	)
	paths := []string{"/v1/tasks?page_size=10", "/v1/users/me"}
	for _, id := range taskIDs {
		paths = append(paths, "/v1/tasks/"+id)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	for w := range 4 {
		wg.Go(func() {
			after := 0
			for i := 0; after < 100 && i < 5000; i++ {
				if stopped.Load() {
					after++
				}
				path := paths[(w+i)%len(paths)]
				req, _ := http.NewRequest("GET", s.baseURL+path, nil)
				req.Header.Set("Authorization", "Bearer "+annToken)
				resp, err := hc.Do(req)
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					mu.Lock()
					failed = append(failed, fmt.Sprintf("GET %s: %v", path, err))
					mu.Unlock()
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures.Add(1)
					mu.Lock()
					failed = append(failed, fmt.Sprintf("GET %s: %d %s", path, resp.StatusCode, body))
					mu.Unlock()
				}
			}
		})
	}
	waitFor(t, 30*time.Second, "the load to start", func() bool { return calls.Load() >= 100 })
	// task-service-1 crashes (SIGKILL: the reads it was serving fail on
	// the connection and must be retried elsewhere); user-service-1 stops
	// gracefully (SIGTERM: NOT_SERVING, then GOAWAY).
	crashed := tasks[0].Process()
	if err := crashed.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-crashed.Done()
	if err := users[0].Stop(10 * time.Second); err != nil {
		t.Errorf("stop %s: %v", users[0].Name(), err)
	}
	stopped.Store(true)
	wg.Wait()
	// Back for the end of the test, which stops every process with SIGTERM.
	tasks[0].Start(t)
	t.Logf("%d reads, %d failed", calls.Load(), failures.Load())
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d reads failed while an instance of each service stopped; first ones:\n%s", n, calls.Load(), strings.Join(failed[:min(len(failed), 10)], "\n"))
	}
	// The survivors served the reads after the stop.
	if n := handled(tasks[1], "GetTask"); n == 0 {
		t.Errorf("%s served no GetTask", tasks[1].Name())
	}
	if n := handled(users[1], "GetCurrentUser"); n == 0 {
		t.Errorf("%s served no GetCurrentUser", users[1].Name())
	}
}

package grpcclient

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	// The client side of the health checking protocol, which the service
	// config's healthCheckConfig turns on, lives in this package.
	_ "google.golang.org/grpc/health"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
)

// staticScheme is the resolver scheme of an address that lists several
// host:port pairs (see Dial).
const staticScheme = "todo-static"

// The retry policy of the methods IdempotentMethods names: a call that
// failed UNAVAILABLE (the instance went away, or refused it while
// stopping) is tried again, on another instance when there is one, up to
// RetryMaxAttempts times in all within the caller's deadline.
const (
	RetryMaxAttempts       = 4
	RetryInitialBackoff    = 50 * time.Millisecond
	RetryMaxBackoff        = 500 * time.Millisecond
	RetryBackoffMultiplier = 2
)

// IdempotentMethods returns the methods of the gRPC service named service
// (a full name, todo.task.v1.TaskService) that have no side effects, so
// that a client may send them again when it cannot tell whether the first
// attempt ran: the reads. Writes are never retried by the client (a
// CreateTask with a request_id may be, by its caller, who knows the id).
func IdempotentMethods(service string) []string {
	switch service {
	case userv1.UserService_ServiceDesc.ServiceName:
		return []string{"GetPublicKeys", "GetUser", "GetCurrentUser", "ListUsers", "BatchGetUsers", "ListUserAuditEvents", "ListPersonalAccessTokens"}
	case taskv1.TaskService_ServiceDesc.ServiceName:
		return []string{"GetTask", "ListTasks", "GetTaskStats", "ListTaskEvents", "ListTaskAuditEvents"}
	}
	return nil
}

// ServiceConfig returns the gRPC service config (JSON) of a connection to
// the replicas of service: round_robin over every address the target
// resolves to, only those whose grpc.health.v1 status for service is
// SERVING (an instance that stops or loses its database is left out at
// once), and the retry policy for IdempotentMethods(service).
func ServiceConfig(service string) string {
	type name struct {
		Service string `json:"service"`
		Method  string `json:"method"`
	}
	type retry struct {
		MaxAttempts          int      `json:"maxAttempts"`
		InitialBackoff       string   `json:"initialBackoff"`
		MaxBackoff           string   `json:"maxBackoff"`
		BackoffMultiplier    float64  `json:"backoffMultiplier"`
		RetryableStatusCodes []string `json:"retryableStatusCodes"`
	}
	type method struct {
		Name        []name `json:"name"`
		RetryPolicy retry  `json:"retryPolicy"`
	}
	cfg := struct {
		LoadBalancingConfig []map[string]struct{} `json:"loadBalancingConfig"`
		HealthCheckConfig   *struct {
			ServiceName string `json:"serviceName"`
		} `json:"healthCheckConfig,omitempty"`
		MethodConfig []method `json:"methodConfig,omitempty"`
	}{LoadBalancingConfig: []map[string]struct{}{{"round_robin": {}}}}
	if service != "" {
		cfg.HealthCheckConfig = &struct {
			ServiceName string `json:"serviceName"`
		}{service}
	}
	if methods := IdempotentMethods(service); len(methods) > 0 {
		m := method{RetryPolicy: retry{
			MaxAttempts:          RetryMaxAttempts,
			InitialBackoff:       seconds(RetryInitialBackoff),
			MaxBackoff:           seconds(RetryMaxBackoff),
			BackoffMultiplier:    RetryBackoffMultiplier,
			RetryableStatusCodes: []string{"UNAVAILABLE"},
		}}
		for _, n := range methods {
			m.Name = append(m.Name, name{Service: service, Method: n})
		}
		cfg.MethodConfig = []method{m}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(fmt.Sprintf("grpcclient: marshal service config: %v", err)) // a bug: the types above always marshal
	}
	return string(b)
}

// seconds formats d as a service config duration ("0.05s").
func seconds(d time.Duration) string {
	return fmt.Sprintf("%gs", d.Seconds())
}

// ForService makes Dial's connection one to the replicas of the gRPC
// service named service (ServiceConfig: round_robin, health checking,
// retries of its idempotent methods).
func ForService(service string) grpc.DialOption {
	return grpc.WithDefaultServiceConfig(ServiceConfig(service))
}

// target turns an upstream address into a gRPC target and the dial options
// it needs: a comma-separated list of host:port becomes a static resolver
// of those addresses (with the first host as the TLS server name); anything
// else is a target gRPC resolves itself (host:port by DNS, every address
// the name has; dns:///, unix: and the other schemes as gRPC knows them).
func target(addr string) (string, []grpc.DialOption, error) {
	if !strings.Contains(addr, ",") {
		return addr, nil, nil
	}
	var addrs []resolver.Address
	for _, a := range strings.Split(addr, ",") {
		a = strings.TrimSpace(a)
		if _, _, err := net.SplitHostPort(a); err != nil {
			return "", nil, fmt.Errorf("address %q of the list %q: %w", a, addr, err)
		}
		addrs = append(addrs, resolver.Address{Addr: a})
	}
	host, _, _ := net.SplitHostPort(addrs[0].Addr)
	r := manual.NewBuilderWithScheme(staticScheme)
	r.InitialState(resolver.State{Addresses: addrs})
	return staticScheme + ":///" + addr, []grpc.DialOption{grpc.WithResolvers(r), grpc.WithAuthority(host)}, nil
}

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

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The descriptors IdempotentMethods reads are registered by these.
	_ "github.com/todo-platform/todo/api/gen/todo/task/v1"
	_ "github.com/todo-platform/todo/api/gen/todo/user/v1"
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

// InternalRead reports whether the method of full name method, one without
// an HTTP binding (called by the platform's services only), has no side
// effects. A test makes sure every method without an HTTP binding is
// decided here.
func InternalRead(method protoreflect.FullName) bool {
	switch method {
	case "todo.user.v1.UserService.BatchGetUsers":
		return true
	}
	return false
}

// IdempotentMethods returns the methods of the gRPC service named service
// (a full name, todo.task.v1.TaskService) that have no side effects, so
// that a client may send them again when it cannot tell whether the first
// attempt ran: the reads. They are the methods the API maps to HTTP GET
// (docs/api.md), read from the service's descriptor so that a new read is
// retried without a list to keep, and the internal reads without a REST
// route, InternalRead. Writes are never retried by the client (a
// CreateTask with a request_id may be, by its caller, who knows the id).
func IdempotentMethods(service string) []string {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil
	}
	var reads []string
	for i := range sd.Methods().Len() {
		m := sd.Methods().Get(i)
		if rule, ok := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule); ok && rule.GetGet() != "" || InternalRead(m.FullName()) {
			reads = append(reads, string(m.Name()))
		}
	}
	return reads
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

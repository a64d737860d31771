package userapi_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/testkit"
)

func TestServer_ReflectionListsUserServiceAndHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stream, err := reflectionpb.NewServerReflectionClient(b.conn).ServerReflectionInfo(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		got[s.GetName()] = true
	}
	for _, want := range []string{"todo.user.v1.UserService", "grpc.health.v1.Health"} {
		if !got[want] {
			t.Errorf("reflection does not list %s: %v", want, got)
		}
	}
	_ = stream.CloseSend()

	h, err := healthpb.NewHealthClient(b.conn).Check(testkit.Context(t), &healthpb.HealthCheckRequest{Service: "todo.user.v1.UserService"})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health check without a token: %v, %v", h, err)
	}
}

func TestResponses_NeverCarryPasswordOrHash(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const pw = "correct horse battery"
	var responses []proto.Message
	created, err := b.client.CreateUser(testkit.Context(t), &userv1.CreateUserRequest{Email: "alice@example.com", Username: "alice", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	login, err := b.client.Login(testkit.Context(t), &userv1.LoginRequest{Login: "alice", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	me, err := b.client.GetCurrentUser(as(testkit.Context(t), login.GetTokens().GetAccessToken()), &userv1.GetCurrentUserRequest{})
	if err != nil {
		t.Fatal(err)
	}
	responses = append(responses, created, login, me)
	for _, r := range responses {
		s := protojson.Format(r)
		if strings.Contains(s, "argon2") || strings.Contains(s, pw) {
			t.Errorf("response carries a password or hash: %s", s)
		}
	}
	// A bad request names the field, not SQL.
	_, err = b.client.GetUser(as(testkit.Context(t), login.GetTokens().GetAccessToken()), &userv1.GetUserRequest{Id: 0})
	st := wantCode(t, err, codes.InvalidArgument)
	if strings.Contains(strings.ToLower(st.Message()), "select") {
		t.Errorf("message leaks SQL: %q", st.Message())
	}
}

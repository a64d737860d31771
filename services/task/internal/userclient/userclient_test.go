package userclient_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/authtest"
	"github.com/todo-platform/todo/pkg/grpcserver"
	"github.com/todo-platform/todo/pkg/grpcserver/grpcservertest"
	"github.com/todo-platform/todo/services/task/internal/userclient"
)

// keyServer publishes signers' keys through GetPublicKeys and counts calls.
type keyServer struct {
	userv1.UnimplementedUserServiceServer
	keys  atomic.Pointer[[]auth.PublicKey]
	calls atomic.Int32
}

func (s *keyServer) GetPublicKeys(context.Context, *userv1.GetPublicKeysRequest) (*userv1.GetPublicKeysResponse, error) {
	s.calls.Add(1)
	resp := &userv1.GetPublicKeysResponse{}
	for _, k := range *s.keys.Load() {
		j := k.JWK()
		resp.Keys = append(resp.Keys, &userv1.PublicKey{Kid: j.Kid, Kty: j.Kty, Crv: j.Crv, X: j.X, Alg: j.Alg, Use: j.Use})
	}
	return resp, nil
}

// serve runs srv on a loopback gRPC server (pkg/grpcserver) and returns a
// userclient connection to it and a function that stops the server; both
// are closed when the test ends.
func serve(t *testing.T, srv userv1.UserServiceServer) (*grpc.ClientConn, func()) {
	t.Helper()
	s := grpcserver.New(slog.New(slog.DiscardHandler), grpcserver.Config{ShutdownTimeout: time.Second})
	userv1.RegisterUserServiceServer(s.GRPC(), srv)
	addr, stop := grpcservertest.Start(t, s)
	conn, err := userclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn, stop
}

func TestFetchKeys_FollowsKeyRotation(t *testing.T) {
	oldSigner, newSigner := authtest.NewSigner(t), authtest.NewSigner(t)
	ks := &keyServer{}
	ks.keys.Store(&[]auth.PublicKey{oldSigner.PublicKey()})
	conn, _ := serve(t, ks)

	// minRefresh 0: every unknown kid may fetch; known kids never do.
	remote := auth.NewRemoteKeys(userclient.FetchKeys(userv1.NewUserServiceClient(conn)), 0)
	v := auth.NewVerifier(remote, auth.DefaultIssuer, auth.DefaultAudience)
	verify := func(s *auth.Signer) error {
		tok, _, err := s.Sign(auth.Principal{UserID: 9}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(t.Context(), tok)
		return err
	}
	for range 3 {
		if err := verify(oldSigner); err != nil {
			t.Fatalf("old key: %v", err)
		}
	}
	if got := ks.calls.Load(); got != 1 {
		t.Errorf("GetPublicKeys calls = %d, want 1 (cached)", got)
	}
	if err := verify(newSigner); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("new key before rotation = %v, want ErrInvalidToken", err)
	}
	ks.keys.Store(&[]auth.PublicKey{oldSigner.PublicKey(), newSigner.PublicKey()})
	if err := verify(newSigner); err != nil {
		t.Errorf("new key after rotation: %v", err)
	}
	if got := ks.calls.Load(); got != 3 {
		t.Errorf("GetPublicKeys calls = %d, want 3", got)
	}
}

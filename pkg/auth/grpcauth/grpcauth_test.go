package grpcauth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/authtest"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/grpcserver"
	"github.com/todo-platform/todo/pkg/grpcserver/grpcservertest"
)

const ttl = authtest.TTL

// mint signs claims with an arbitrary method and header, for forged tokens.
func mint(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return s
}

// goodClaims are the claims of a valid token for user 42, issued now.
func goodClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": auth.DefaultIssuer,
		"aud": auth.DefaultAudience,
		"sub": "42",
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for key, val := range c {
		out[key] = val
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// principalServer echoes the caller's Principal.
type principalServer struct {
	userv1.UnimplementedUserServiceServer
}

func (principalServer) GetCurrentUser(ctx context.Context, _ *userv1.GetCurrentUserRequest) (*userv1.User, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.FailedPrecondition, "handler ran without a principal")
	}
	return &userv1.User{Id: p.UserID, IsAdmin: new(p.Admin)}, nil
}

func (principalServer) GetPublicKeys(ctx context.Context, _ *userv1.GetPublicKeysRequest) (*userv1.GetPublicKeysResponse, error) {
	kid := "anonymous"
	if _, ok := auth.FromContext(ctx); ok {
		kid = "signed-in"
	}
	return &userv1.GetPublicKeysResponse{Keys: []*userv1.PublicKey{{Kid: kid}}}, nil
}

// serve starts a grpcserver with the auth interceptor (GetPublicKeys public)
// on loopback and returns a connection to it.
func serve(t *testing.T, v *auth.Verifier, srv userv1.UserServiceServer) *grpc.ClientConn {
	t.Helper()
	s := grpcserver.New(slog.New(slog.DiscardHandler), grpcserver.Config{},
		grpcauth.UnaryServerInterceptor(v, userv1.UserService_GetPublicKeys_FullMethodName))
	userv1.RegisterUserServiceServer(s.GRPC(), srv)
	return grpcservertest.Serve(t, s)
}

func TestInterceptor_RefusesBadTokens(t *testing.T) {
	key := authtest.NewKey(t)
	pub := key.Public().(ed25519.PublicKey)
	signer := auth.NewSigner(key, auth.DefaultIssuer, auth.DefaultAudience, ttl)
	v := auth.NewVerifier(authtest.Keys(signer), auth.DefaultIssuer, auth.DefaultAudience)
	client := userv1.NewUserServiceClient(serve(t, v, principalServer{}))

	now := time.Now()
	kid := signer.KeyID()
	hdr := map[string]any{"kid": kid, "typ": "at+jwt"}
	sign := func(s *auth.Signer, at time.Time) string {
		tok, _, err := s.Sign(auth.Principal{UserID: 42}, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	valid := sign(signer, now)
	parts := strings.Split(valid, ".")
	forgedAdmin := parts[0] + "." + base64.RawURLEncoding.EncodeToString(
		[]byte(`{"iss":"todo-user-service","aud":["todo"],"sub":"42","adm":true,"iat":`+
			jsonInt(now.Unix())+`,"exp":`+jsonInt(now.Add(ttl).Unix())+`}`)) + "." + parts[2]

	tests := []struct {
		name  string
		token string // sent as "Bearer <token>" unless header is set
		md    []string
	}{
		{name: "expired", token: sign(signer, now.Add(-time.Hour))},
		{name: "issued in the future", token: sign(signer, now.Add(time.Hour))},
		{name: "wrong audience", token: sign(auth.NewSigner(key, auth.DefaultIssuer, "other", ttl), now)},
		{name: "wrong issuer", token: sign(auth.NewSigner(key, "evil", auth.DefaultAudience, ttl), now)},
		{name: "unknown kid", token: sign(auth.NewSigner(authtest.NewKey(t), auth.DefaultIssuer, auth.DefaultAudience, ttl), now)},
		{name: "known kid, other key", token: mint(t, jwt.SigningMethodEdDSA, authtest.NewKey(t), hdr, goodClaims(now))},
		{name: "alg none", token: mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr, goodClaims(now))},
		{name: "HS256 with the public key as secret", token: mint(t, jwt.SigningMethodHS256, []byte(pub), hdr, goodClaims(now))},
		{name: "HS256 with the public key PEM as secret", token: mint(t, jwt.SigningMethodHS256, pubPEM, hdr, goodClaims(now))},
		{name: "forged admin claim", token: forgedAdmin},
		{name: "typ JWT", token: mint(t, jwt.SigningMethodEdDSA, key, map[string]any{"kid": kid, "typ": "JWT"}, goodClaims(now))},
		{name: "no typ", token: mint(t, jwt.SigningMethodEdDSA, key, map[string]any{"kid": kid, "typ": nil}, goodClaims(now))},
		{name: "no kid", token: mint(t, jwt.SigningMethodEdDSA, key, map[string]any{"typ": "at+jwt"}, goodClaims(now))},
		{name: "no exp", token: mint(t, jwt.SigningMethodEdDSA, key, hdr, with(goodClaims(now), "exp", nil))},
		{name: "sub not a number", token: mint(t, jwt.SigningMethodEdDSA, key, hdr, with(goodClaims(now), "sub", "alice"))},
		{name: "sub zero", token: mint(t, jwt.SigningMethodEdDSA, key, hdr, with(goodClaims(now), "sub", "0"))},
		{name: "sub negative", token: mint(t, jwt.SigningMethodEdDSA, key, hdr, with(goodClaims(now), "sub", "-42"))},
		{name: "no sub", token: mint(t, jwt.SigningMethodEdDSA, key, hdr, with(goodClaims(now), "sub", nil))},
		{name: "garbage", token: "garbage"},
		{name: "three garbage parts", token: "a.b.c"},
		{name: "refresh token", token: base64.RawURLEncoding.EncodeToString(make([]byte, 32))},
		{name: "missing header", md: []string{}},
		{name: "empty bearer", md: []string{"authorization", "Bearer "}},
		{name: "basic scheme", md: []string{"authorization", "Basic " + valid}},
		{name: "two authorization values", md: []string{"authorization", "Bearer " + valid, "authorization", "Bearer " + valid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.md != nil {
				ctx = metadata.NewOutgoingContext(ctx, metadata.Pairs(tt.md...))
			} else {
				if _, err := v.Verify(ctx, tt.token); !errors.Is(err, auth.ErrInvalidToken) {
					t.Errorf("Verify = %v, want ErrInvalidToken", err)
				}
				ctx = grpcauth.WithBearer(ctx, tt.token)
			}
			_, err := client.GetCurrentUser(ctx, &userv1.GetCurrentUserRequest{})
			st := status.Convert(err)
			if got, want := st.Code(), codes.Unauthenticated; got != want {
				t.Fatalf("code = %v, want %v (%v)", got, want, err)
			}
			if got, want := st.Message(), grpcauth.UnauthenticatedMessage; got != want {
				t.Errorf("message = %q, want %q", got, want)
			}
		})
	}

	t.Run("valid token reaches the handler with its principal", func(t *testing.T) {
		resp, err := client.GetCurrentUser(grpcauth.WithBearer(t.Context(), valid), &userv1.GetCurrentUserRequest{})
		if err != nil {
			t.Fatalf("GetCurrentUser: %v", err)
		}
		if got := resp.GetId(); got != 42 {
			t.Errorf("principal user id = %d, want 42", got)
		}
	})
	t.Run("lower-case scheme is accepted", func(t *testing.T) {
		ctx := metadata.NewOutgoingContext(t.Context(), metadata.Pairs("authorization", "bearer "+valid))
		if _, err := client.GetCurrentUser(ctx, &userv1.GetCurrentUserRequest{}); err != nil {
			t.Errorf("GetCurrentUser: %v", err)
		}
	})
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestInterceptor_PublicMethodsPassWithoutToken(t *testing.T) {
	signer := auth.NewSigner(authtest.NewKey(t), auth.DefaultIssuer, auth.DefaultAudience, ttl)
	v := auth.NewVerifier(authtest.Keys(signer), auth.DefaultIssuer, auth.DefaultAudience)
	conn := serve(t, v, principalServer{})
	client := userv1.NewUserServiceClient(conn)

	valid, _, err := signer.Sign(auth.Principal{UserID: 5}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"no token", t.Context(), "anonymous"},
		{"invalid token", grpcauth.WithBearer(t.Context(), "garbage"), "anonymous"},
		{"valid token", grpcauth.WithBearer(t.Context(), valid), "signed-in"},
	} {
		resp, err := client.GetPublicKeys(tt.ctx, &userv1.GetPublicKeysRequest{})
		if err != nil {
			t.Fatalf("%s: GetPublicKeys: %v", tt.name, err)
		}
		if got := resp.GetKeys()[0].GetKid(); got != tt.want {
			t.Errorf("%s: handler saw %q, want %q", tt.name, got, tt.want)
		}
	}
	resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health without token = %v, %v; want SERVING", resp.GetStatus(), err)
	}
}

func TestInterceptor_UnavailableKeysAreNotUnauthenticated(t *testing.T) {
	signer := auth.NewSigner(authtest.NewKey(t), auth.DefaultIssuer, auth.DefaultAudience, ttl)
	down := auth.NewRemoteKeys(func(context.Context) ([]auth.PublicKey, error) {
		return nil, errors.New("connection refused")
	}, time.Minute)
	v := auth.NewVerifier(down, auth.DefaultIssuer, auth.DefaultAudience)
	token, _, err := signer.Sign(auth.Principal{UserID: 5}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), token); err == nil || errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Verify with the key source down = %v, want an error that is not ErrInvalidToken", err)
	}
	client := userv1.NewUserServiceClient(serve(t, v, principalServer{}))
	_, err = client.GetCurrentUser(grpcauth.WithBearer(t.Context(), token), &userv1.GetCurrentUserRequest{})
	if got, want := status.Code(err), codes.Unavailable; got != want {
		t.Errorf("code = %v, want %v (%v)", got, want, err)
	}
}

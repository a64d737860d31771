// Package grpcauth carries access tokens in gRPC metadata and authenticates
// each call with an auth.Verifier.
package grpcauth

import (
	"context"
	"errors"
	"slices"
	"strings"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/todo-platform/todo/pkg/auth"
)

// authorizationKey is the gRPC metadata key of the bearer token.
const authorizationKey = "authorization"

// healthMethodPrefix marks the grpc.health.v1 methods, which load balancers
// and orchestrators call without a token.
const healthMethodPrefix = "/grpc.health.v1.Health/"

// ReadOnlyMessage is the message of the PermissionDenied status a
// read-only personal access token gets for a method that is not a read.
const ReadOnlyMessage = "a read-only personal access token may only read"

// readPrefixes begin the names of the methods that only read, as the API
// names them (AIP-131, 132, 231: Get, List, BatchGet; and Search, Watch).
var readPrefixes = []string{"Get", "List", "BatchGet", "Search", "Watch"}

// ReadMethod reports whether the gRPC method fullMethod
// ("/pkg.Service/Method") only reads: its name begins with Get, List,
// BatchGet, Search or Watch. A read-only personal access token may call
// only these.
func ReadMethod(fullMethod string) bool {
	name := fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
	for _, p := range readPrefixes {
		if rest, ok := strings.CutPrefix(name, p); ok && (rest == "" || rest[0] >= 'A' && rest[0] <= 'Z') {
			return true
		}
	}
	return false
}

// UnauthenticatedMessage is the message of every Unauthenticated status the
// interceptor returns; the reason is logged server-side, never sent.
const UnauthenticatedMessage = "missing or invalid access token"

// BearerToken returns the token of the incoming "authorization: Bearer <token>"
// metadata of ctx (scheme case-insensitive), and whether there was one.
func BearerToken(ctx context.Context) (string, bool) {
	vals := metadata.ValueFromIncomingContext(ctx, authorizationKey)
	if len(vals) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// WithBearer returns a copy of ctx whose outgoing gRPC metadata carries
// "authorization: Bearer <token>", replacing any authorization already there.
func WithBearer(ctx context.Context, token string) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set(authorizationKey, "Bearer "+token)
	return metadata.NewOutgoingContext(ctx, md)
}

// UnaryServerInterceptor authenticates each call with the bearer token of its
// metadata. A call with a valid token runs with the token's Principal in its
// context (auth.FromContext). Other calls fail with Unauthenticated and
// UnauthenticatedMessage, except calls to publicMethods (full method names such
// as "/todo.user.v1.UserService/Login") and to the grpc.health.v1 service,
// which run without a Principal (or with one, when they carry a valid token).
// When the verification keys cannot be obtained the call fails with
// Unavailable. A read-only personal access token (auth.Principal.ReadOnly)
// gets PermissionDenied and ReadOnlyMessage for any method but a
// ReadMethod. The refusal's reason is added to the call's log line (field
// "auth.error") through go-grpc-middleware's logging fields.
func UnaryServerInterceptor(v *auth.Verifier, publicMethods ...string) grpc.UnaryServerInterceptor {
	authn := authenticator(v, publicMethods)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authn(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls:
// the token is checked once, when the stream opens, and the stream's
// context carries its Principal. Server reflection (both versions) is
// public, as the health service is: operators describe the services with
// grpcurl without a token.
func StreamServerInterceptor(v *auth.Verifier, publicMethods ...string) grpc.StreamServerInterceptor {
	authn := authenticator(v, append(slices.Clip(publicMethods), reflectionV1, reflectionV1Alpha))
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := authn(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		w := middleware.WrapServerStream(ss)
		w.WrappedContext = ctx
		return handler(srv, w)
	}
}

// The server reflection services' methods.
const (
	reflectionV1      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	reflectionV1Alpha = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

// authenticator returns the check both interceptors make: the context to
// run method with, or the status error refusing it.
func authenticator(v *auth.Verifier, publicMethods []string) func(ctx context.Context, method string) (context.Context, error) {
	public := make(map[string]bool, len(publicMethods))
	for _, m := range publicMethods {
		public[m] = true
	}
	return func(ctx context.Context, method string) (context.Context, error) {
		isPublic := public[method] || strings.HasPrefix(method, healthMethodPrefix)
		token, ok := BearerToken(ctx)
		if !ok {
			if isPublic {
				return ctx, nil
			}
			logging.AddFields(ctx, logging.Fields{"auth.error", "no bearer token"})
			return nil, status.Error(codes.Unauthenticated, UnauthenticatedMessage)
		}
		p, err := v.Verify(ctx, token)
		switch {
		case err == nil && p.ReadOnly && !ReadMethod(method):
			logging.AddFields(ctx, logging.Fields{"auth.user_id", p.UserID, "auth.error", "read-only personal access token"})
			return nil, status.Error(codes.PermissionDenied, ReadOnlyMessage)
		case err == nil:
			logging.AddFields(ctx, logging.Fields{"auth.user_id", p.UserID})
			return auth.NewContext(ctx, p), nil
		case isPublic:
			return ctx, nil
		case errors.Is(err, auth.ErrInvalidToken):
			logging.AddFields(ctx, logging.Fields{"auth.error", err.Error()})
			return nil, status.Error(codes.Unauthenticated, UnauthenticatedMessage)
		default:
			logging.AddFields(ctx, logging.Fields{"auth.error", err.Error()})
			return nil, status.Error(codes.Unavailable, "access token verification keys unavailable")
		}
	}
}

package userapi

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/services/user/internal/user"
)

// Status messages. Sign-in failures share one message whatever the cause.
const (
	msgInvalidCredentials  = "invalid credentials"
	msgInvalidRefreshToken = "invalid refresh token"
	msgNotFound            = "user not found"
	msgPermissionDenied    = "permission denied"
	msgThrottled           = "too many failed sign-in attempts; retry later"
)

// unauthenticated is returned when a non-public method runs without a
// principal, which the auth interceptor should have prevented.
func unauthenticated() error {
	return status.Error(codes.Unauthenticated, grpcauth.UnauthenticatedMessage)
}

// status turns an error of the business layer into the gRPC status the
// client gets. fieldPrefix is prepended to the field named by a duplicate
// email or username ("user." in UpdateUser). Anything unexpected is logged
// by grpcerr.Fallback (Internal "internal error" unless it is a deadline or
// an unavailable database): no SQL, hash or stack ever reaches the client.
func (s *Server) status(ctx context.Context, err error, fieldPrefix string) error {
	var (
		inv       *user.InvalidArgumentError
		throttled *user.ThrottledError
	)
	switch {
	case errors.Is(err, user.ErrEmailTaken):
		return alreadyExists("email already registered", fieldPrefix+"email")
	case errors.Is(err, user.ErrUsernameTaken):
		return alreadyExists("username already taken", fieldPrefix+"username")
	case errors.Is(err, user.ErrNotFound):
		return status.Error(codes.NotFound, msgNotFound)
	case errors.Is(err, user.ErrInvalidCredentials):
		return status.Error(codes.Unauthenticated, msgInvalidCredentials)
	case errors.Is(err, user.ErrInvalidRefreshToken):
		return status.Error(codes.Unauthenticated, msgInvalidRefreshToken)
	case errors.Is(err, user.ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, msgPermissionDenied)
	case errors.As(err, &throttled):
		return grpcerr.ResourceExhausted(msgThrottled, throttled.RetryAfter)
	case errors.As(err, &inv):
		fv := grpcerr.FieldViolation{Field: inv.Field, Description: inv.Description}
		return grpcerr.InvalidArgument(grpcerr.Message(fv), fv)
	default:
		if _, ok := status.FromError(err); ok {
			return err // already a status (from caller)
		}
		return grpcerr.Fallback(ctx, s.log, err)
	}
}

// alreadyExists is AlreadyExists with a google.rpc.BadRequest naming field.
func alreadyExists(msg, field string) error {
	st := status.New(codes.AlreadyExists, msg)
	ds, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: field, Description: msg},
	}})
	if err != nil {
		return st.Err()
	}
	return ds.Err()
}

package userapi

import (
	"context"
	"errors"
	"strconv"
	"strings"

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
	msgSignUpThrottled     = "too many sign-ups from this address; retry later"
	msgMailThrottled       = "too many mails asked for; retry later"
	msgAlreadyVerified     = "the email address is already verified"
	msgEmailTaken          = "email already registered"
	msgUsernameTaken       = "username already taken"
)

// fieldPaths is one RPC's table from the things the domain's errors are
// about to the paths of the request fields that carry them, so that status
// can name the field: CreateUser's email is "email", UpdateUser's is
// "user.email". A path an RPC leaves empty is one it has no field for; a
// domain error about it is unexpected in that RPC and answered as such.
type fieldPaths struct {
	Email, Username, FullName string
	// Password is the new password; CurrentPassword the one it replaces.
	Password, CurrentPassword string
	// Change is the field naming the fields to change (an update mask).
	Change string
	// PageSize and PageToken are the paging fields of a listing.
	PageSize, PageToken string
	// Token is a token sent by mail.
	Token string
	// PATExpiry is a personal access token's expiry.
	PATExpiry string
}

// status turns an error of the business layer into the gRPC status the
// client gets: the one place where that happens. Errors about a field name
// it by its path in the request, taken from paths. What no rule of the
// domain explains (deadlines, an unavailable database, anything unexpected)
// is grpcerr.Fallback's, which logs it: no SQL, hash or stack ever reaches
// the client.
func (s *Server) status(ctx context.Context, err error, paths fieldPaths) error {
	var (
		throttled *user.ThrottledError
		password  *user.PasswordError
		unknown   *user.UnknownFieldError
	)
	switch {
	case errors.Is(err, user.ErrEmailTaken):
		return s.alreadyExists(ctx, err, msgEmailTaken, paths.Email)
	case errors.Is(err, user.ErrUsernameTaken):
		return s.alreadyExists(ctx, err, msgUsernameTaken, paths.Username)
	case errors.Is(err, user.ErrNotFound):
		return status.Error(codes.NotFound, msgNotFound)
	case errors.Is(err, user.ErrInvalidCredentials):
		return status.Error(codes.Unauthenticated, msgInvalidCredentials)
	case errors.Is(err, user.ErrInvalidRefreshToken):
		return status.Error(codes.Unauthenticated, msgInvalidRefreshToken)
	case errors.Is(err, user.ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, msgPermissionDenied)
	case errors.As(err, &throttled) && throttled.SignUp:
		return grpcerr.ResourceExhausted(msgSignUpThrottled, throttled.RetryAfter)
	case errors.As(err, &throttled) && throttled.Mail:
		return grpcerr.ResourceExhausted(msgMailThrottled, throttled.RetryAfter)
	case errors.Is(err, user.ErrInvalidEmailToken):
		return s.invalid(ctx, err, paths.Token, "is not a valid token: unknown, already used or expired")
	case errors.Is(err, user.ErrPATNotFound):
		return status.Error(codes.NotFound, "personal access token not found")
	case errors.Is(err, user.ErrInvalidPATExpiry):
		return s.invalid(ctx, err, paths.PATExpiry, "must be in the future and at most 366 days ahead")
	case errors.Is(err, user.ErrAlreadyVerified):
		return status.Error(codes.FailedPrecondition, msgAlreadyVerified)
	case errors.As(err, &throttled):
		return grpcerr.ResourceExhausted(msgThrottled, throttled.RetryAfter)
	case errors.Is(err, user.ErrInvalidEmail):
		return s.invalid(ctx, err, paths.Email, "must be an email address")
	case errors.Is(err, user.ErrInvalidUsername):
		return s.invalid(ctx, err, paths.Username, "must be 3 to 32 characters of a-z, 0-9, '_', '.' and '-'")
	case errors.Is(err, user.ErrFullNameTooLong):
		return s.invalid(ctx, err, paths.FullName, "is too long")
	case errors.As(err, &password):
		return s.invalid(ctx, err, paths.Password, password.Reason)
	case errors.Is(err, user.ErrWrongCurrentPassword):
		return s.invalid(ctx, err, paths.CurrentPassword, "does not match the current password")
	case errors.As(err, &unknown):
		return s.invalid(ctx, err, paths.Change,
			"unknown path "+strconv.Quote(unknown.Name)+"; allowed: "+strings.Join(user.ChangeableFields(), ", "))
	case errors.Is(err, user.ErrInvalidPageSize):
		return s.invalid(ctx, err, paths.PageSize, "must be 0 to "+strconv.Itoa(user.MaxPageSize))
	case errors.Is(err, user.ErrInvalidAuditPageToken):
		return s.invalid(ctx, err, paths.PageToken, "is not a page token of ListUserAuditEvents with these filters")
	case errors.Is(err, user.ErrInvalidPageToken):
		return s.invalid(ctx, err, paths.PageToken, "is not a page token of ListUsers with this is_active filter")
	default:
		return grpcerr.Fallback(ctx, s.log, err)
	}
}

// invalid is InvalidArgument naming the field at path, or, when the RPC has
// no such field (path is empty), grpcerr.Fallback's answer to err.
func (s *Server) invalid(ctx context.Context, err error, path, description string) error {
	if path == "" {
		return grpcerr.Fallback(ctx, s.log, err)
	}
	return invalid(path, description)
}

// alreadyExists is AlreadyExists with message msg and a google.rpc.BadRequest
// naming the field at path, or, when the RPC has no such field (path is
// empty), grpcerr.Fallback's answer to err.
func (s *Server) alreadyExists(ctx context.Context, err error, msg, path string) error {
	if path == "" {
		return grpcerr.Fallback(ctx, s.log, err)
	}
	st := status.New(codes.AlreadyExists, msg)
	ds, werr := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: path, Description: msg},
	}})
	if werr != nil {
		return st.Err()
	}
	return ds.Err()
}

// invalid is InvalidArgument with one field violation, its message
// "path: description".
func invalid(path, description string) error {
	fv := grpcerr.FieldViolation{Field: path, Description: description}
	return grpcerr.InvalidArgument(grpcerr.Message(fv), fv)
}

// unauthenticated is returned when a non-public method runs without a
// principal, which the auth interceptor prevents.
func unauthenticated() error {
	return status.Error(codes.Unauthenticated, grpcauth.UnauthenticatedMessage)
}

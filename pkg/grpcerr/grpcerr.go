// Package grpcerr builds the gRPC status errors the services return: canonical
// codes with google.rpc error details, and an Internal error that logs its
// cause server-side and never sends it to the client.
package grpcerr

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/todo-platform/todo/pkg/dberr"
)

// RetryAfterUnavailable is the retry delay Fallback advises when the
// database is unavailable.
const RetryAfterUnavailable = time.Second

// Status messages of Fallback.
const (
	msgUnavailable = "the service is temporarily unavailable; retry later"
	msgDeadline    = "deadline exceeded"
	msgCanceled    = "request cancelled"
	msgAborted     = "the request conflicted with a concurrent one; retry"
)

// Fallback is the end of each service's error mapping, for errors that are
// no domain rule's: the caller's deadline or cancellation (DeadlineExceeded,
// Canceled), a database that could not be reached (Unavailable, with a
// google.rpc.RetryInfo of RetryAfterUnavailable), a statement timeout
// (DeadlineExceeded), a serialization failure (Aborted), and anything else
// (Internal, see Internal). Causes are logged, never sent.
func Fallback(ctx context.Context, log *slog.Logger, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, dberr.ErrStatementTimeout):
		return status.Error(codes.DeadlineExceeded, msgDeadline)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, msgCanceled)
	case errors.Is(err, dberr.ErrUnavailable):
		log.WarnContext(ctx, "database unavailable", slog.Any("error", err))
		return Unavailable(msgUnavailable, RetryAfterUnavailable)
	case errors.Is(err, dberr.ErrSerialization):
		return status.Error(codes.Aborted, msgAborted)
	default:
		return Internal(ctx, log, err)
	}
}

// Unavailable returns a codes.Unavailable status error with message msg and
// a google.rpc.RetryInfo detail advising a retry after retryAfter.
func Unavailable(msg string, retryAfter time.Duration) error {
	return withDetails(status.New(codes.Unavailable, msg), &errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)})
}

// ResourceExhausted returns a codes.ResourceExhausted status error with
// message msg and a google.rpc.RetryInfo detail advising a retry after
// retryAfter.
func ResourceExhausted(msg string, retryAfter time.Duration) error {
	return withDetails(status.New(codes.ResourceExhausted, msg), &errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)})
}

// FieldViolation names one request field that is invalid and says why.
// Field is the dotted path of the field in the request message, such as
// "task.title" or "password".
type FieldViolation struct {
	Field       string
	Description string
}

// InvalidArgument returns a codes.InvalidArgument status error with message msg
// and a google.rpc.BadRequest detail carrying one FieldViolation per element of v.
func InvalidArgument(msg string, v ...FieldViolation) error {
	st := status.New(codes.InvalidArgument, msg)
	if len(v) == 0 {
		return st.Err()
	}
	br := &errdetails.BadRequest{FieldViolations: make([]*errdetails.BadRequest_FieldViolation, 0, len(v))}
	for _, fv := range v {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       fv.Field,
			Description: fv.Description,
		})
	}
	return withDetails(st, br)
}

// PreconditionType is the google.rpc.PreconditionFailure violation type that
// FailedPrecondition uses; each violation's subject is the field path.
const PreconditionType = "FIELD"

// FailedPrecondition returns a codes.FailedPrecondition status error with
// message msg and a google.rpc.PreconditionFailure detail carrying one
// violation per element of v (type PreconditionType, subject the field path,
// description the reason).
func FailedPrecondition(msg string, v ...FieldViolation) error {
	st := status.New(codes.FailedPrecondition, msg)
	if len(v) == 0 {
		return st.Err()
	}
	pf := &errdetails.PreconditionFailure{Violations: make([]*errdetails.PreconditionFailure_Violation, 0, len(v))}
	for _, fv := range v {
		pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
			Type:        PreconditionType,
			Subject:     fv.Field,
			Description: fv.Description,
		})
	}
	return withDetails(st, pf)
}

// InternalMessage is the only message an Internal status ever carries.
const InternalMessage = "internal error"

// Internal logs err with the gRPC method of ctx at error level and returns a
// codes.Internal status error whose message is InternalMessage. The cause is
// never sent to the client.
func Internal(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		err = errors.New("grpcerr.Internal called with a nil error")
	}
	method, _ := grpc.Method(ctx)
	log.ErrorContext(ctx, "internal error", slog.String("grpc.method", method), slog.Any("error", err))
	return status.Error(codes.Internal, InternalMessage)
}

// FieldViolations returns the field violations of a status error's
// google.rpc.BadRequest or google.rpc.PreconditionFailure details, in order;
// it returns nil when err is not a status error or carries neither detail.
func FieldViolations(err error) []FieldViolation {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	var out []FieldViolation
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, fv := range d.GetFieldViolations() {
				out = append(out, FieldViolation{Field: fv.GetField(), Description: fv.GetDescription()})
			}
		case *errdetails.PreconditionFailure:
			for _, v := range d.GetViolations() {
				out = append(out, FieldViolation{Field: v.GetSubject(), Description: v.GetDescription()})
			}
		}
	}
	return out
}

// Fields returns the field paths of FieldViolations(err), in order.
func Fields(err error) []string {
	fv := FieldViolations(err)
	if fv == nil {
		return nil
	}
	out := make([]string, len(fv))
	for i, v := range fv {
		out[i] = v.Field
	}
	return out
}

// Message joins violations into "field: description; field: description",
// the form the services use in status messages.
func Message(v ...FieldViolation) string {
	var b strings.Builder
	for i, fv := range v {
		if i > 0 {
			b.WriteString("; ")
		}
		if fv.Field != "" {
			b.WriteString(fv.Field)
			b.WriteString(": ")
		}
		b.WriteString(fv.Description)
	}
	return b.String()
}

// withDetails attaches d to st; a detail that cannot be marshalled (never
// the case for the errdetails types) leaves the status without it.
func withDetails(st *status.Status, d protoadapt.MessageV1) error {
	ds, err := st.WithDetails(d)
	if err != nil {
		return st.Err()
	}
	return ds.Err()
}

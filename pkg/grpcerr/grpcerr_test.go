package grpcerr_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/todo-platform/todo/pkg/grpcerr"
)

func TestInvalidArgument_CarriesBadRequest(t *testing.T) {
	v := []grpcerr.FieldViolation{{Field: "task.title", Description: "must not be blank"}, {Field: "page_size", Description: "too big"}}
	err := grpcerr.InvalidArgument("invalid request: "+grpcerr.Message(v...), v...)
	st := status.Convert(err)
	if got, want := st.Code(), codes.InvalidArgument; got != want {
		t.Errorf("code = %v, want %v", got, want)
	}
	if got, want := st.Message(), "invalid request: task.title: must not be blank; page_size: too big"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	details := st.Details()
	if len(details) != 1 {
		t.Fatalf("details = %v, want one BadRequest", details)
	}
	if _, ok := details[0].(*errdetails.BadRequest); !ok {
		t.Fatalf("detail is %T, want *errdetails.BadRequest", details[0])
	}
	if got := grpcerr.FieldViolations(err); !slices.Equal(got, v) {
		t.Errorf("FieldViolations = %v, want %v", got, v)
	}
	if got := status.Convert(grpcerr.InvalidArgument("bad")).Details(); len(got) != 0 {
		t.Errorf("details without violations = %v, want none", got)
	}
}

func TestFailedPrecondition_CarriesPreconditionFailure(t *testing.T) {
	v := grpcerr.FieldViolation{Field: "etag", Description: "does not match the current task"}
	err := grpcerr.FailedPrecondition("stale etag", v)
	st := status.Convert(err)
	if got, want := st.Code(), codes.FailedPrecondition; got != want {
		t.Errorf("code = %v, want %v", got, want)
	}
	pf, ok := st.Details()[0].(*errdetails.PreconditionFailure)
	if !ok {
		t.Fatalf("detail is %T, want *errdetails.PreconditionFailure", st.Details()[0])
	}
	if got := pf.GetViolations()[0]; got.GetType() != grpcerr.PreconditionType || got.GetSubject() != "etag" {
		t.Errorf("violation = %v", got)
	}
	if got := grpcerr.Fields(err); !slices.Equal(got, []string{"etag"}) {
		t.Errorf("Fields = %v", got)
	}
}

func TestInternal_LogsCauseAndHidesIt(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	cause := errors.New(`ERROR: relation "task" does not exist (SQLSTATE 42P01)`)
	err := grpcerr.Internal(context.Background(), log, cause)
	st := status.Convert(err)
	if st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Errorf("status = %v %q, want Internal \"internal error\"", st.Code(), st.Message())
	}
	if strings.Contains(err.Error(), "SQLSTATE") {
		t.Errorf("status leaks the cause: %v", err)
	}
	if !strings.Contains(buf.String(), "SQLSTATE 42P01") {
		t.Errorf("log lacks the cause: %s", buf.String())
	}
	if grpcerr.FieldViolations(errors.New("plain")) != nil {
		t.Error("FieldViolations of a plain error is not nil")
	}
}

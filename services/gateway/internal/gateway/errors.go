package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/todo-platform/todo/pkg/grpcerr"
)

// errorHandler returns the grpc-gateway error handler: the response is the
// google.rpc.Status of the failure as JSON ({"code", "message", "details"})
// with the HTTP status of its gRPC code (see writeStatus).
//
// Failures that carry transport or server internals (UNAVAILABLE from a
// dead upstream, UNKNOWN, INTERNAL, DATA_LOSS) are logged and answered with
// a generic message and no details but a google.rpc.RetryInfo; a body cut
// at the size limit is 413. A decoding error of the handlers themselves
// (which checkInput leaves none of) is worded for a client.
func errorHandler(log *slog.Logger, maxBody int64) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		httpStatus := 0
		var hs *runtime.HTTPStatusError
		if errors.As(err, &hs) {
			httpStatus, err = hs.HTTPStatus, hs.Err
		}
		var mse runtime.MalformedSequenceError
		if errors.As(err, &mse) {
			err = invalidRequest(grpcerr.FieldViolation{Description: "the request path is not correctly percent-encoded"}).Err()
		}
		st := status.Convert(err)

		if bodyTooLarge(r.Context()) {
			st, httpStatus = tooLargeStatus(maxBody), http.StatusRequestEntityTooLarge
		}
		switch st.Code() {
		case codes.Unavailable:
			log.WarnContext(ctx, "upstream unavailable", "path", r.URL.Path, "request_id", requestIDFrom(r.Context()), "error", st.Message())
			st = keepRetryInfo(status.New(codes.Unavailable, "service unavailable, try again"), st)
		case codes.Unknown, codes.Internal, codes.DataLoss:
			log.ErrorContext(ctx, "upstream failure", "path", r.URL.Path, "request_id", requestIDFrom(r.Context()), "code", st.Code().String(), "error", st.Message())
			st = status.New(codes.Internal, "internal error")
		case codes.DeadlineExceeded:
			st = status.New(codes.DeadlineExceeded, "deadline exceeded")
		case codes.Canceled:
			st = status.New(codes.Canceled, "request canceled")
		case codes.InvalidArgument:
			st = handlerParseError(st)
		}
		if httpStatus == 0 {
			httpStatus = runtime.HTTPStatusFromCode(st.Code())
		}
		writeStatus(w, httpStatus, st)
	}
}

// keepRetryInfo is to with the google.rpc.RetryInfo details of from.
func keepRetryInfo(to, from *status.Status) *status.Status {
	for _, d := range from.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			if s, err := to.WithDetails(ri); err == nil {
				to = s
			}
		}
	}
	return to
}

// badTimeout is how grpc-gateway reports a Grpc-Timeout header it cannot
// parse: "invalid grpc-timeout: %s".
const badTimeout = "invalid grpc-timeout: "

// pathTypeMismatch is how the grpc-gateway handlers report a path value
// they cannot parse: "type mismatch, parameter: %s, error: %v".
const pathTypeMismatch = "type mismatch, parameter: "

// handlerParseError rewords an INVALID_ARGUMENT without details that a
// grpc-gateway handler made of a parse error, which checkInput leaves none
// of: a path value it could not parse becomes a violation of that
// parameter, without the Go error.
func handlerParseError(st *status.Status) *status.Status {
	if len(st.Details()) > 0 {
		return st
	}
	if strings.HasPrefix(st.Message(), badTimeout) {
		return invalidRequest(grpcerr.FieldViolation{Field: "Grpc-Timeout",
			Description: "must be a gRPC timeout: a positive integer of at most 8 digits and a unit (H, M, S, m for milliseconds, u, n), such as 5S or 1500m"})
	}
	if rest, ok := strings.CutPrefix(st.Message(), pathTypeMismatch); ok {
		param, _, _ := strings.Cut(rest, ",")
		return invalidRequest(grpcerr.FieldViolation{Field: displayKey(param), Description: "has a value that does not fit the field"})
	}
	return st
}

// routingErrorHandler answers requests that match no route (404), a route
// with another method (405) or a malformed path (400) with a JSON error
// whose HTTP status is exactly that.
func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	var st *status.Status
	switch httpStatus {
	case http.StatusNotFound:
		st = status.Newf(codes.NotFound, "no route for %s %s", r.Method, r.URL.Path)
	case http.StatusMethodNotAllowed:
		st = status.Newf(codes.Unimplemented, "method %s not allowed for %s", r.Method, r.URL.Path)
	case http.StatusBadRequest:
		st = status.New(codes.InvalidArgument, "bad request path")
	default:
		st = status.New(codes.Internal, "routing error")
		httpStatus = http.StatusInternalServerError
	}
	runtime.HTTPError(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: st.Err()})
}

func tooLargeStatus(maxBody int64) *status.Status {
	// No field violation: the body as a whole is at fault, and the
	// message says so (a violation would have to name "" or guess the
	// body's field).
	return status.New(codes.ResourceExhausted, fmt.Sprintf("the request body is larger than the limit of %d bytes", maxBody))
}

// withViolations is st with a google.rpc.BadRequest detail carrying v.
func withViolations(st *status.Status, v ...grpcerr.FieldViolation) *status.Status {
	br := &errdetails.BadRequest{}
	for _, fv := range v {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: fv.Field, Description: fv.Description})
	}
	if s, err := st.WithDetails(br); err == nil {
		return s
	}
	return st
}

// writeJSON writes v as the JSON response body with the given status; it is
// for the gateway's own small responses, not for protos.
func writeJSON(w http.ResponseWriter, httpStatus int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		body, httpStatus = []byte(`{"code":13,"message":"internal error","details":[]}`), http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(append(body, '\n'))
}

// errorJSON writes error bodies as the API writes its messages.
var errorJSON = protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true}

// DefaultRetryAfter is the Retry-After of a 429 or 503 whose status carries
// no google.rpc.RetryInfo.
const DefaultRetryAfter = grpcerr.RetryAfterUnavailable

// writeStatus writes st as the JSON error body ({"code", "message",
// "details"}, the google.rpc.Status) with the given HTTP status: the one
// place every error of the gateway is written. A 401 carries
// WWW-Authenticate; a 429 or 503 carries Retry-After, in whole seconds, from
// the status's google.rpc.RetryInfo or else DefaultRetryAfter.
func writeStatus(w http.ResponseWriter, httpStatus int, st *status.Status) {
	p := st.Proto()
	// Messages may quote client input (a bad path value); JSON needs
	// valid UTF-8.
	p.Message = strings.ToValidUTF8(p.Message, "\uFFFD")
	body, err := errorJSON.Marshal(p)
	if err != nil {
		body = []byte(`{"code":13,"message":"internal error","details":[]}`)
		httpStatus = http.StatusInternalServerError
	}
	h := w.Header()
	if st.Code() == codes.Unauthenticated {
		h.Set("WWW-Authenticate", `Bearer realm="todo"`)
	}
	if httpStatus == http.StatusTooManyRequests || httpStatus == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds(st)))
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}

// retryAfterSeconds is the delay of st's google.rpc.RetryInfo rounded up to
// whole seconds, at least 1; DefaultRetryAfter when there is none (or st is
// nil).
func retryAfterSeconds(st *status.Status) int {
	d := DefaultRetryAfter
	for _, detail := range st.Details() {
		if ri, ok := detail.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().IsValid() {
			d = ri.GetRetryDelay().AsDuration()
			break
		}
	}
	return max(1, int(math.Ceil(d.Seconds())))
}

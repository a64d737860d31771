package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errorHandler returns the grpc-gateway error handler: the response is the
// google.rpc.Status of the failure as JSON ({"code", "message", "details"})
// with the HTTP status of its gRPC code.
//
// Failures that carry transport or server internals (UNAVAILABLE from a
// dead upstream, UNKNOWN, INTERNAL, DATA_LOSS) are logged and answered with
// a generic message and no details; a body cut at the size limit is 413.
func errorHandler(log *slog.Logger, maxBody int64) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, _ *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		httpStatus := 0
		var hs *runtime.HTTPStatusError
		if errors.As(err, &hs) {
			httpStatus, err = hs.HTTPStatus, hs.Err
		}
		st := status.Convert(err)

		if bodyTooLarge(r.Context()) {
			st, httpStatus = tooLargeStatus(maxBody), http.StatusRequestEntityTooLarge
		}
		switch st.Code() {
		case codes.Unavailable:
			log.WarnContext(ctx, "upstream unavailable", "path", r.URL.Path, "request_id", requestIDFrom(r.Context()), "error", st.Message())
			st = status.New(codes.Unavailable, "service unavailable, try again")
		case codes.Unknown, codes.Internal, codes.DataLoss:
			log.ErrorContext(ctx, "upstream failure", "path", r.URL.Path, "request_id", requestIDFrom(r.Context()), "code", st.Code().String(), "error", st.Message())
			st = status.New(codes.Internal, "internal error")
		case codes.DeadlineExceeded:
			st = status.New(codes.DeadlineExceeded, "deadline exceeded")
		case codes.Canceled:
			st = status.New(codes.Canceled, "request canceled")
		}
		if httpStatus == 0 {
			httpStatus = runtime.HTTPStatusFromCode(st.Code())
		}

		p := st.Proto()
		// Messages may quote client input (a bad path value); JSON needs
		// valid UTF-8.
		p.Message = strings.ToValidUTF8(p.Message, "\uFFFD")
		body, merr := m.Marshal(p)
		if merr != nil {
			log.ErrorContext(ctx, "marshal error response", "error", merr, "code", st.Code().String())
			body = []byte(`{"code":13,"message":"internal error","details":[]}`)
			httpStatus = http.StatusInternalServerError
		}
		if st.Code() == codes.Unauthenticated {
			w.Header().Set("WWW-Authenticate", `Bearer realm="todo"`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(httpStatus)
		_, _ = w.Write(body)
	}
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
	return status.Newf(codes.ResourceExhausted, "request body larger than %d bytes", maxBody)
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

// writeStatus writes st as a JSON error body outside grpc-gateway (for
// middleware that answers before the mux).
func writeStatus(w http.ResponseWriter, httpStatus int, st *status.Status) {
	writeJSON(w, httpStatus, struct {
		Code    int32  `json:"code"`
		Message string `json:"message"`
		Details []any  `json:"details"`
	}{Code: int32(st.Code()), Message: st.Message(), Details: []any{}})
}

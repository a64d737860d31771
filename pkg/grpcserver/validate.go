package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/todo-platform/todo/pkg/grpcerr"
)

// validator checks every request: first its text (see check), then the
// protovalidate rules of the request protos.
type validator struct {
	log *slog.Logger
	v   protovalidate.Validator
	err error // set when the validator could not be built: every request fails closed
}

func newValidator(log *slog.Logger) *validator {
	v, err := protovalidate.New()
	if err != nil {
		log.Error("building the protovalidate validator failed; every request will be refused", slog.Any("error", err))
	}
	return &validator{log: log, v: v, err: err}
}

// unary validates the request before calling the handler.
func (v *validator) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := v.validate(ctx, req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// stream checks the text of every message a stream call receives (see
// check); stream requests have no protovalidate rules of ours.
func (v *validator) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &checkedStream{ServerStream: ss, v: v})
}

// checkedStream is a grpc.ServerStream whose received messages are checked.
type checkedStream struct {
	grpc.ServerStream
	v *validator
}

func (s *checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.v.check(s.Context(), m)
}

// check refuses the text of a request: InvalidArgument with a
// google.rpc.BadRequest naming every string that holds a NUL character or
// is not valid UTF-8 (the latter found by the server's codec, which marks
// the request, see codec), and for bytes that are no message of the
// request's type. Every string field of every request is checked, nested,
// repeated and map ones included, so none of these reaches a handler or
// PostgreSQL, which refuses 0x00 in text.
func (v *validator) check(ctx context.Context, req any) error {
	msg, ok := req.(proto.Message)
	if !ok {
		return grpcerr.Internal(ctx, v.log, fmt.Errorf("grpcserver: request of type %T is not a proto message", req))
	}
	m := msg.ProtoReflect()
	marked, malformed := takeMarks(m)
	if malformed {
		return grpcerr.InvalidArgument(msgMalformed)
	}
	fvs := textViolations(m)
	if len(marked) == 0 && len(fvs) == 0 {
		return nil
	}
	// The bytes the codec replaced are NUL now: such a field is reported
	// once, as not UTF-8.
	all := make([]grpcerr.FieldViolation, 0, len(marked)+len(fvs))
	for _, p := range marked {
		all = append(all, grpcerr.FieldViolation{Field: p, Description: descInvalidUTF8})
	}
	for _, fv := range fvs {
		if !slices.Contains(marked, fv.Field) {
			all = append(all, fv)
		}
	}
	return grpcerr.InvalidArgument("invalid request: "+grpcerr.Message(all...), all...)
}

// validate returns nil for a valid request, InvalidArgument with a
// google.rpc.BadRequest for an invalid one (its text first, see check; then
// the protovalidate rules), and Internal when the rules cannot be
// evaluated.
func (v *validator) validate(ctx context.Context, req any) error {
	if err := v.check(ctx, req); err != nil {
		return err
	}
	if v.err != nil {
		return grpcerr.Internal(ctx, v.log, v.err)
	}
	msg := req.(proto.Message) // check refused anything else
	err := v.v.Validate(msg)
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		return grpcerr.Internal(ctx, v.log, err)
	}
	return invalidArgument(verr)
}

// invalidArgument turns a protovalidate.ValidationError into InvalidArgument
// whose message names every field, such as
// "invalid request: password: value length must be at least 12 characters".
func invalidArgument(verr *protovalidate.ValidationError) error {
	fvs := make([]grpcerr.FieldViolation, 0, len(verr.Violations))
	for _, viol := range verr.Violations {
		desc := viol.Proto.GetMessage()
		if desc == "" {
			desc = viol.Proto.GetRuleId()
		}
		fvs = append(fvs, grpcerr.FieldViolation{
			Field:       protovalidate.FieldPathString(viol.Proto.GetField()),
			Description: desc,
		})
	}
	return grpcerr.InvalidArgument("invalid request: "+grpcerr.Message(fvs...), fvs...)
}

package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/todo-platform/todo/pkg/grpcerr"
)

// validator enforces the protovalidate rules of the request protos.
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

// validate returns nil for a valid request, InvalidArgument with a
// google.rpc.BadRequest for an invalid one, and Internal when the rules
// cannot be evaluated.
func (v *validator) validate(ctx context.Context, req any) error {
	if v.err != nil {
		return grpcerr.Internal(ctx, v.log, v.err)
	}
	msg, ok := req.(proto.Message)
	if !ok {
		return grpcerr.Internal(ctx, v.log, fmt.Errorf("grpcserver: request of type %T is not a proto message", req))
	}
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

package taskapi

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// CreateWebhook registers an endpoint of the caller.
func (s *Server) CreateWebhook(ctx context.Context, req *taskv1.CreateWebhookRequest) (*taskv1.Webhook, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	w, err := s.svc.CreateWebhook(ctx, c, req.GetUrl(), req.GetSecret())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return webhookToProto(w), nil
}

// ListWebhooks lists the caller's webhooks.
func (s *Server) ListWebhooks(ctx context.Context, _ *taskv1.ListWebhooksRequest) (*taskv1.ListWebhooksResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := s.svc.ListWebhooks(ctx, c)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &taskv1.ListWebhooksResponse{Webhooks: make([]*taskv1.Webhook, len(ws))}
	for i, w := range ws {
		out.Webhooks[i] = webhookToProto(w)
	}
	return out, nil
}

// DeleteWebhook deletes one of the caller's webhooks.
func (s *Server) DeleteWebhook(ctx context.Context, req *taskv1.DeleteWebhookRequest) (*emptypb.Empty, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.svc.DeleteWebhook(ctx, c, req.GetId()); err != nil {
		return nil, s.status(ctx, err)
	}
	return &emptypb.Empty{}, nil
}

func webhookToProto(w task.Webhook) *taskv1.Webhook {
	return &taskv1.Webhook{
		Id:             w.ID,
		Url:            w.URL,
		CreatedAt:      timestamppb.New(w.CreatedAt),
		FailingSince:   timeToProto(w.FailingSince),
		LastError:      w.LastError,
		DisabledAt:     timeToProto(w.DisabledAt),
		DisabledReason: w.DisabledReason,
	}
}

// Package taskapi is the gRPC transport of the task service: it implements
// todo.task.v1.TaskService on top of package task, converting between proto
// and domain types (convert.go) and turning domain errors into gRPC status,
// with the request field paths they concern, in one function (errors.go).
// It holds no rule of the domain and speaks no SQL.
package taskapi

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/fieldbehavior"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// Server implements taskv1.TaskServiceServer. Every method needs the
// Principal that grpcauth.UnaryServerInterceptor puts in the context.
type Server struct {
	taskv1.UnimplementedTaskServiceServer

	log *slog.Logger
	svc *task.Service
	// dryRun is svc.DryRun(), for validate_only.
	dryRun *task.Service
	// watchSendTimeout bounds each send of WatchTasks (0: the default).
	watchSendTimeout time.Duration
	// ignored are the Task fields an update mask may name without effect:
	// the output-only ones (from the proto's field_behavior) and the etag,
	// a condition rather than a value.
	ignored map[string]bool
}

// New returns a Server over svc; log receives the causes of Internal errors.
func New(log *slog.Logger, svc *task.Service) *Server {
	ignored := fieldbehavior.OutputOnly((&taskv1.Task{}).ProtoReflect().Descriptor())
	ignored["etag"] = true
	return &Server{log: log, svc: svc, dryRun: svc.DryRun(), ignored: ignored}
}

// Register registers s on gs.
func (s *Server) Register(gs grpc.ServiceRegistrar) {
	taskv1.RegisterTaskServiceServer(gs, s)
}

// service returns the Service a write runs on: s.svc, or its dry run for a
// request with validate_only (AIP-163).
func (s *Server) service(validateOnly bool) *task.Service {
	if validateOnly {
		return s.dryRun
	}
	return s.svc
}

// caller returns the authenticated caller.
func caller(ctx context.Context) (task.Caller, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return task.Caller{}, unauthenticated()
	}
	return task.Caller{UserID: p.UserID, Admin: p.Admin}, nil
}

// CreateTask creates a task owned by the caller.
func (s *Server) CreateTask(ctx context.Context, req *taskv1.CreateTaskRequest) (*taskv1.Task, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	n, err := newTaskFromProto(req.GetTask())
	if err != nil {
		return nil, err
	}
	t, err := s.service(req.GetValidateOnly()).Create(ctx, c, n, req.GetRequestId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return toProto(t), nil
}

// GetTask returns a task the caller can see.
func (s *Server) GetTask(ctx context.Context, req *taskv1.GetTaskRequest) (*taskv1.Task, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.svc.Get(ctx, c, req.GetId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return toProto(t), nil
}

// ListTasks returns a page of the tasks the caller can see.
func (s *Server) ListTasks(ctx context.Context, req *taskv1.ListTasksRequest) (*taskv1.ListTasksResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := listRequestFromProto(req)
	if err != nil {
		return nil, err
	}
	p, err := s.svc.List(ctx, c, r)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &taskv1.ListTasksResponse{Tasks: tasksToProto(p.Tasks), NextPageToken: p.NextPageToken}, nil
}

// UpdateTask changes the fields of the update mask.
func (s *Server) UpdateTask(ctx context.Context, req *taskv1.UpdateTaskRequest) (*taskv1.Task, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	p, err := patchFromProto(req.GetTask(), req.GetUpdateMask(), s.ignored)
	if err != nil {
		return nil, err
	}
	t, err := s.service(req.GetValidateOnly()).Update(ctx, c, p)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return toProto(t), nil
}

// DeleteTask deletes a task.
func (s *Server) DeleteTask(ctx context.Context, req *taskv1.DeleteTaskRequest) (*emptypb.Empty, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.service(req.GetValidateOnly()).Delete(ctx, c, req.GetId(), task.IfEtag(req.GetEtag())); err != nil {
		return nil, s.status(ctx, err)
	}
	return &emptypb.Empty{}, nil
}

// AssignTask assigns a task to an active user, or to nobody.
func (s *Server) AssignTask(ctx context.Context, req *taskv1.AssignTaskRequest) (*taskv1.Task, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.service(req.GetValidateOnly()).Assign(ctx, c, req.GetId(), req.GetAssigneeId(), task.IfEtag(req.GetEtag()))
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return toProto(t), nil
}

// GetTaskStats counts the caller's tasks for a dashboard.
func (s *Server) GetTaskStats(ctx context.Context, _ *taskv1.GetTaskStatsRequest) (*taskv1.GetTaskStatsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.svc.Stats(ctx, c)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return statsToProto(st), nil
}

// ListTaskEvents returns a page of the history of a task the caller can see.
func (s *Server) ListTaskEvents(ctx context.Context, req *taskv1.ListTaskEventsRequest) (*taskv1.ListTaskEventsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.svc.TaskEvents(ctx, c, req.GetId(), task.EventsRequest{PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &taskv1.ListTaskEventsResponse{Events: eventsToProto(p.Events), NextPageToken: p.NextPageToken}, nil
}

// ListTaskAuditEvents returns a page of the audit log to an admin.
func (s *Server) ListTaskAuditEvents(ctx context.Context, req *taskv1.ListTaskAuditEventsRequest) (*taskv1.ListTaskAuditEventsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := auditRequestFromProto(req)
	if err != nil {
		return nil, err
	}
	p, err := s.svc.AuditEvents(ctx, c, r)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &taskv1.ListTaskAuditEventsResponse{Events: eventsToProto(p.Events), NextPageToken: p.NextPageToken}, nil
}

package taskapi

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/pkg/grpcerr"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// BatchCreateTasks creates tasks owned by the caller, all or none.
func (s *Server) BatchCreateTasks(ctx context.Context, req *taskv1.BatchCreateTasksRequest) (*taskv1.BatchCreateTasksResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	items := make([]task.CreateItem, len(req.GetRequests()))
	for i, r := range req.GetRequests() {
		n, err := newTaskFromProto(r.GetTask())
		if err != nil {
			return nil, inItem(i, err)
		}
		items[i] = task.CreateItem{Task: n, RequestID: r.GetRequestId()}
	}
	tasks, err := s.svc.BatchCreate(ctx, c, items)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &taskv1.BatchCreateTasksResponse{Tasks: tasksToProto(tasks)}, nil
}

// BatchUpdateTasks applies updates, all or none.
func (s *Server) BatchUpdateTasks(ctx context.Context, req *taskv1.BatchUpdateTasksRequest) (*taskv1.BatchUpdateTasksResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	patches := make([]task.Patch, len(req.GetRequests()))
	for i, r := range req.GetRequests() {
		p, err := patchFromProto(r.GetTask(), r.GetUpdateMask(), s.ignored)
		if err != nil {
			return nil, inItem(i, err)
		}
		patches[i] = p
	}
	tasks, err := s.svc.BatchUpdate(ctx, c, patches)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &taskv1.BatchUpdateTasksResponse{Tasks: tasksToProto(tasks)}, nil
}

// BatchDeleteTasks deletes tasks, all or none.
func (s *Server) BatchDeleteTasks(ctx context.Context, req *taskv1.BatchDeleteTasksRequest) (*emptypb.Empty, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	items := make([]task.DeleteItem, len(req.GetRequests()))
	for i, r := range req.GetRequests() {
		items[i] = task.DeleteItem{ID: r.GetId(), If: task.IfEtag(r.GetEtag())}
	}
	if err := s.svc.BatchDelete(ctx, c, items); err != nil {
		return nil, s.status(ctx, err)
	}
	return &emptypb.Empty{}, nil
}

func tasksToProto(tasks []task.Task) []*taskv1.Task {
	out := make([]*taskv1.Task, len(tasks))
	for i, t := range tasks {
		out[i] = toProto(t)
	}
	return out
}

// inItem turns err, the status one item's request would have got from the
// single method, into the batch's: the field paths of its violations, and
// its message, start with requests[i] (requests[3].task.title). Statuses
// that say nothing about the item (a deadline, an unavailable database,
// an internal error) are returned as they are.
func inItem(i int, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.DeadlineExceeded, codes.Unavailable, codes.Internal, codes.Canceled, codes.Unauthenticated:
		return err
	}
	item := fmt.Sprintf("requests[%d]", i)
	path := func(field string) string {
		if field == "" {
			return item
		}
		return item + "." + field
	}
	violations := grpcerr.FieldViolations(err)
	for i := range violations {
		violations[i].Field = path(violations[i].Field)
	}
	switch {
	case st.Code() == codes.InvalidArgument && len(violations) > 0:
		return grpcerr.InvalidArgument(grpcerr.Message(violations...), violations...)
	case st.Code() == codes.FailedPrecondition && len(violations) > 0:
		return grpcerr.FailedPrecondition(grpcerr.Message(violations...), violations...)
	}
	return status.Error(st.Code(), item+": "+st.Message())
}

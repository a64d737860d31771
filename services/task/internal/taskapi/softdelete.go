package taskapi

import (
	"context"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
)

// UndeleteTask brings back a deleted task within the retention window.
func (s *Server) UndeleteTask(ctx context.Context, req *taskv1.UndeleteTaskRequest) (*taskv1.Task, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.svc.Undelete(ctx, c, req.GetId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return toProto(t), nil
}

package taskapi

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// ListTaskChanges returns a page of the caller's change feed.
func (s *Server) ListTaskChanges(ctx context.Context, req *taskv1.ListTaskChangesRequest) (*taskv1.ListTaskChangesResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.svc.Changes(ctx, c, req.GetSince(), int(req.GetPageSize()))
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &taskv1.ListTaskChangesResponse{Changes: make([]*taskv1.TaskChange, len(p.Changes)), NextToken: p.Token, HasMore: p.More}
	for i, ch := range p.Changes {
		out.Changes[i] = ChangeToProto(ch)
	}
	return out, nil
}

// ChangeToProto converts one change of the feed (webhook payloads use it
// too).
func ChangeToProto(ch task.TaskChange) *taskv1.TaskChange {
	out := &taskv1.TaskChange{Type: changeTypeToProto(ch.Kind), TaskId: ch.TaskID, Time: timestamppb.New(ch.Time)}
	if ch.Task != nil {
		out.Task = toProto(*ch.Task)
	} else {
		out.Tombstone = &taskv1.Tombstone{TaskId: ch.TaskID, Reason: tombstoneToProto(ch.Tombstone)}
	}
	return out
}

func changeTypeToProto(k task.ChangeKind) taskv1.TaskChangeType {
	switch k {
	case task.ChangeCreated:
		return taskv1.TaskChangeType_TASK_CHANGE_TYPE_CREATED
	case task.ChangeUpdated:
		return taskv1.TaskChangeType_TASK_CHANGE_TYPE_UPDATED
	case task.ChangeAssigned:
		return taskv1.TaskChangeType_TASK_CHANGE_TYPE_ASSIGNED
	case task.ChangeUnassigned:
		return taskv1.TaskChangeType_TASK_CHANGE_TYPE_UNASSIGNED
	case task.ChangeDeleted:
		return taskv1.TaskChangeType_TASK_CHANGE_TYPE_DELETED
	case task.ChangeUndeleted:
		return taskv1.TaskChangeType_TASK_CHANGE_TYPE_UNDELETED
	}
	return taskv1.TaskChangeType_TASK_CHANGE_TYPE_UNSPECIFIED
}

func tombstoneToProto(r task.TombstoneReason) taskv1.TombstoneReason {
	switch r {
	case task.TombstoneDeleted:
		return taskv1.TombstoneReason_TOMBSTONE_REASON_DELETED
	case task.TombstoneUnassigned:
		return taskv1.TombstoneReason_TOMBSTONE_REASON_UNASSIGNED
	}
	return taskv1.TombstoneReason_TOMBSTONE_REASON_UNSPECIFIED
}

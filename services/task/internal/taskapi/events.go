package taskapi

import (
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// actorKindToProto converts an event's actor kind.
func actorKindToProto(k string) taskv1.AuditActorKind {
	switch k {
	case task.ActorUser:
		return taskv1.AuditActorKind_AUDIT_ACTOR_KIND_USER
	case task.ActorOperator:
		return taskv1.AuditActorKind_AUDIT_ACTOR_KIND_OPERATOR
	case task.ActorSystem:
		return taskv1.AuditActorKind_AUDIT_ACTOR_KIND_SYSTEM
	}
	return taskv1.AuditActorKind_AUDIT_ACTOR_KIND_UNSPECIFIED
}

// eventsToProto converts domain events.
func eventsToProto(events []task.Event) []*taskv1.TaskEvent {
	out := make([]*taskv1.TaskEvent, len(events))
	for i, e := range events {
		pe := &taskv1.TaskEvent{
			Time:      timestamppb.New(e.Time),
			ActorKind: actorKindToProto(e.ActorKind),
			ActorId:   assigneeToProto(e.ActorID),
			Action:    e.Action,
			TaskId:    e.TaskID,
			RequestId: e.RequestID,
			Changes:   make([]*taskv1.FieldChange, len(e.Changes)),
		}
		for j, ch := range e.Changes {
			pe.Changes[j] = &taskv1.FieldChange{Field: ch.Field, OldValue: valueToProto(ch.Old), NewValue: valueToProto(ch.New)}
		}
		out[i] = pe
	}
	return out
}

// valueToProto converts a decoded JSON value; nil (no value) and a value
// JSON cannot hold, which the trigger never writes, are absent.
func valueToProto(v any) *structpb.Value {
	if v == nil {
		return nil
	}
	pv, err := structpb.NewValue(v)
	if err != nil {
		return nil
	}
	return pv
}

// auditRequestFromProto reads the filters and paging of ListTaskAuditEvents.
func auditRequestFromProto(req *taskv1.ListTaskAuditEventsRequest) (task.EventsRequest, error) {
	start, err := timeFromProto(req.GetStartTime(), "start_time")
	if err != nil {
		return task.EventsRequest{}, err
	}
	end, err := timeFromProto(req.GetEndTime(), "end_time")
	if err != nil {
		return task.EventsRequest{}, err
	}
	return task.EventsRequest{
		Filter: task.EventFilter{
			TaskID:  req.TaskId,
			ActorID: req.ActorId,
			Action:  req.GetAction(),
			Start:   start,
			End:     end,
		},
		PageSize:  int(req.GetPageSize()),
		PageToken: req.GetPageToken(),
	}, nil
}

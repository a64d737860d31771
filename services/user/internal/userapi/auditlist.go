package userapi

import (
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/services/user/internal/user"
)

// auditFilterFromProto reads the filters of ListUserAuditEvents.
func auditFilterFromProto(req *userv1.ListUserAuditEventsRequest) (user.AuditFilter, error) {
	f := user.AuditFilter{ActorID: req.ActorId, TargetID: req.TargetUserId, Action: req.GetAction()}
	for _, tt := range []struct {
		ts    *timestamppb.Timestamp
		field string
		dst   **time.Time
	}{{req.GetStartTime(), "start_time", &f.Start}, {req.GetEndTime(), "end_time", &f.End}} {
		if tt.ts == nil {
			continue
		}
		if err := tt.ts.CheckValid(); err != nil {
			return user.AuditFilter{}, invalid(tt.field, "not a valid timestamp")
		}
		t := tt.ts.AsTime()
		*tt.dst = &t
	}
	return f, nil
}

// actorKindToProto converts an event's actor kind.
func actorKindToProto(k user.ActorKind) userv1.AuditActorKind {
	switch k {
	case user.ActorUser:
		return userv1.AuditActorKind_AUDIT_ACTOR_KIND_USER
	case user.ActorOperator:
		return userv1.AuditActorKind_AUDIT_ACTOR_KIND_OPERATOR
	case user.ActorSystem:
		return userv1.AuditActorKind_AUDIT_ACTOR_KIND_SYSTEM
	}
	return userv1.AuditActorKind_AUDIT_ACTOR_KIND_UNSPECIFIED
}

// optID is an optional id: unset for 0.
func optID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// auditEventToProto converts a recorded event. A change JSON cannot hold,
// which the store never writes, is left out.
func auditEventToProto(e user.RecordedEvent) *userv1.UserAuditEvent {
	out := &userv1.UserAuditEvent{
		Time:         timestamppb.New(e.Time),
		ActorKind:    actorKindToProto(e.ActorKind),
		ActorId:      optID(e.ActorID),
		Action:       e.Action,
		TargetUserId: optID(e.TargetID),
		RequestId:    e.RequestID,
		ClientAddr:   e.ClientAddr,
	}
	if ch, err := structpb.NewStruct(e.Change); err == nil {
		out.Change = ch
	}
	return out
}

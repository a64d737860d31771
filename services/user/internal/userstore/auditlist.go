package userstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/user/internal/user"
)

// The admin listing of user_audit_event (ListUserAuditEvents), newest first:
// the conditions below, chosen by the filter fields that are set, joined by
// AND; every value is a named argument.
const (
	auditListSQL = `SELECT id, created_at, actor_kind, coalesce(actor_id, 0), action, coalesce(target_id, 0),
	coalesce(request_id, ''), coalesce(client_addr, ''), change
FROM user_audit_event
WHERE %s
ORDER BY created_at DESC, id DESC LIMIT @limit::bigint`

	auditCondTrue   = `TRUE`
	auditCondActor  = `actor_id = @actor_id::bigint`
	auditCondTarget = `target_kind = 'user' AND target_id = @target_id::bigint`
	auditCondAction = `action = @action::text`
	auditCondStart  = `created_at >= @start_time::timestamptz`
	auditCondEnd    = `created_at < @end_time::timestamptz`
	auditCondAfter  = `(created_at, id) < (@after_time::timestamptz, @after_id::bigint)`
)

// AuditEvents returns up to q.Limit events matching q.Filter after q.After,
// newest first.
func (s *Store) AuditEvents(ctx context.Context, q user.AuditQuery) ([]user.RecordedEvent, error) {
	args := pgx.NamedArgs{"limit": int64(q.Limit)}
	conds := []string{auditCondTrue}
	f := q.Filter
	if f.ActorID != nil {
		conds = append(conds, auditCondActor)
		args["actor_id"] = *f.ActorID
	}
	if f.TargetID != nil {
		conds = append(conds, auditCondTarget)
		args["target_id"] = *f.TargetID
	}
	if f.Action != "" {
		conds = append(conds, auditCondAction)
		args["action"] = f.Action
	}
	if f.Start != nil {
		conds = append(conds, auditCondStart)
		args["start_time"] = *f.Start
	}
	if f.End != nil {
		conds = append(conds, auditCondEnd)
		args["end_time"] = *f.End
	}
	if a := q.After; a != nil {
		conds = append(conds, auditCondAfter)
		args["after_time"] = a.CreatedAt
		args["after_id"] = a.ID
	}
	sql := fmt.Sprintf(auditListSQL, strings.Join(conds, " AND "))
	var out []user.RecordedEvent
	err := s.send(ctx, "list audit events", pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(sql, args)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.RecordedEvent, error) {
			var (
				e    user.RecordedEvent
				kind string
				raw  []byte
			)
			if err := r.Scan(&e.ID, &e.Time, &kind, &e.ActorID, &e.Action, &e.TargetID, &e.RequestID, &e.ClientAddr, &raw); err != nil {
				return user.RecordedEvent{}, err
			}
			e.Time, e.ActorKind = e.Time.UTC(), user.ActorKind(kind)
			if err := json.Unmarshal(raw, &e.Change); err != nil {
				return user.RecordedEvent{}, fmt.Errorf("audit event %d: decode change: %w", e.ID, err)
			}
			return e, nil
		})
		return err
	})
	return out, err
}

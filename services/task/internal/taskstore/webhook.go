package taskstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// webhookColumns are the webhook columns the listings return, in
// scanWebhook's order (never the secret).
const webhookColumns = `id, user_id, url, created_at, failing_since, coalesce(last_error, ''), disabled_at, coalesce(disabled_reason, '')`

const (
	createWebhookSQL = `
INSERT INTO webhook (user_id, url, secret) VALUES (@uid::bigint, @url::text, @secret::text)
RETURNING ` + webhookColumns

	listWebhooksSQL = `SELECT ` + webhookColumns + ` FROM webhook WHERE user_id = @uid::bigint ORDER BY id`

	deleteWebhookSQL = `DELETE FROM webhook WHERE id = @id::bigint AND user_id = @uid::bigint`

	// deliverySQL reads, as the webhook's owner, the enabled webhook with
	// its secret and the feed row to deliver.
	deliverySQL = `
WITH w AS (
    SELECT secret, ` + webhookColumns + ` FROM webhook
    WHERE id = @webhook_id::bigint AND user_id = @uid::bigint AND disabled_at IS NULL
)
SELECT w.*, c.id, c.xid::text, c.task_id, c.kind, c.tombstone, c.task, c.created_at
FROM w JOIN task_change c ON c.id = @change_id::bigint AND c.user_id = @uid::bigint`

	// recordSuccessSQL and recordFailureSQL keep the webhook's health; a
	// failure past disable_after of continuous failure disables it.
	recordSuccessSQL = `
UPDATE webhook SET failing_since = NULL, last_error = NULL
WHERE id = @webhook_id::bigint AND user_id = @uid::bigint AND failing_since IS NOT NULL`

	recordFailureSQL = `
UPDATE webhook SET
    failing_since   = coalesce(failing_since, now()),
    last_error      = @error::text,
    disabled_at     = CASE WHEN coalesce(failing_since, now()) <= now() - @disable_after_us::bigint * interval '1 microsecond' THEN now() END,
    disabled_reason = CASE WHEN coalesce(failing_since, now()) <= now() - @disable_after_us::bigint * interval '1 microsecond'
                           THEN 'every delivery failed since ' || to_char(coalesce(failing_since, now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '; last: ' || @error::text END
WHERE id = @webhook_id::bigint AND user_id = @uid::bigint AND disabled_at IS NULL
RETURNING disabled_at IS NOT NULL`
)

func scanWebhook(row pgx.Row, extra ...any) (task.Webhook, error) {
	var w task.Webhook
	dest := append([]any{&w.ID, &w.UserID, &w.URL, &w.CreatedAt, &w.FailingSince, &w.LastError, &w.DisabledAt, &w.DisabledReason}, extra...)
	if err := row.Scan(dest...); err != nil {
		return task.Webhook{}, err
	}
	w.CreatedAt = w.CreatedAt.UTC()
	w.FailingSince, w.DisabledAt = utcPtr(w.FailingSince), utcPtr(w.DisabledAt)
	return w, nil
}

// CreateWebhook stores c's webhook.
func (s *Store) CreateWebhook(ctx context.Context, c task.Caller, url, secret string) (task.Webhook, error) {
	args := callerArgs(c)
	args["url"], args["secret"] = url, secret
	var w task.Webhook
	err := s.db.Send(ctx, pgdb.RetryIfNotSent, settings(ctx, c), func(b *pgx.Batch) { b.Queue(createWebhookSQL, args) }, func(br pgx.BatchResults) error {
		var err error
		w, err = scanWebhook(br.QueryRow())
		return err
	})
	if err != nil {
		return task.Webhook{}, fmt.Errorf("taskstore create webhook: %w", err)
	}
	return w, nil
}

// ListWebhooks returns c's webhooks, oldest first.
func (s *Store) ListWebhooks(ctx context.Context, c task.Caller) ([]task.Webhook, error) {
	var ws []task.Webhook
	err := s.db.Send(ctx, pgdb.RetrySafe, settings(ctx, c), func(b *pgx.Batch) { b.Queue(listWebhooksSQL, callerArgs(c)) }, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		ws, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (task.Webhook, error) { return scanWebhook(r) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("taskstore list webhooks: %w", err)
	}
	return ws, nil
}

// DeleteWebhook deletes c's webhook id.
func (s *Store) DeleteWebhook(ctx context.Context, c task.Caller, id int64) error {
	args := callerArgs(c)
	args["id"] = id
	var tag pgconn.CommandTag
	err := s.db.Send(ctx, pgdb.RetryIfNotSent, settings(ctx, c), func(b *pgx.Batch) { b.Queue(deleteWebhookSQL, args) }, func(br pgx.BatchResults) error {
		var err error
		tag, err = br.Exec()
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("taskstore delete webhook: %w", err)
	case tag.RowsAffected() == 0:
		return fmt.Errorf("taskstore delete webhook: %w", task.ErrWebhookNotFound)
	}
	return nil
}

// Delivery returns user's enabled webhook webhookID, with its secret, and
// the feed row changeID to deliver to it; task.ErrWebhookNotFound when the
// webhook is gone or disabled, or the row was swept.
func (s *Store) Delivery(ctx context.Context, user, webhookID, changeID int64) (task.Webhook, task.TaskChange, error) {
	c := task.Caller{UserID: user}
	args := callerArgs(c)
	args["webhook_id"], args["change_id"] = webhookID, changeID
	var (
		w  task.Webhook
		ch task.TaskChange
	)
	err := s.db.Send(ctx, pgdb.RetrySafe, settings(ctx, c), func(b *pgx.Batch) { b.Queue(deliverySQL, args) }, func(br pgx.BatchResults) error {
		var (
			secret, xid, kind string
			id, taskID        int64
			tombstone         *string
			raw               []byte
			at                time.Time
		)
		row := br.QueryRow()
		var err error
		w, err = scanWebhook(scanFirst{row, &secret}, &id, &xid, &taskID, &kind, &tombstone, &raw, &at)
		if err != nil {
			return err
		}
		w.Secret = secret
		ch, err = changeFromRow(id, xid, taskID, kind, tombstone, raw, at)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return task.Webhook{}, task.TaskChange{}, fmt.Errorf("taskstore delivery: %w", task.ErrWebhookNotFound)
	}
	if err != nil {
		return task.Webhook{}, task.TaskChange{}, fmt.Errorf("taskstore delivery: %w", err)
	}
	return w, ch, nil
}

// scanFirst is a pgx.Row whose first column goes to first, the rest to
// the destinations its Scan is given.
type scanFirst struct {
	pgx.Row
	first any
}

func (r scanFirst) Scan(dest ...any) error { return r.Row.Scan(append([]any{r.first}, dest...)...) }

// RecordDelivery records the outcome of a delivery to user's webhook
// webhookID: failure "" is a success; a failure after disableAfter of
// continuous failure disables the webhook, and RecordDelivery reports it.
func (s *Store) RecordDelivery(ctx context.Context, user, webhookID int64, failure string, disableAfter time.Duration) (disabled bool, err error) {
	c := task.Caller{UserID: user}
	args := callerArgs(c)
	args["webhook_id"] = webhookID
	args["error"] = failure
	args["disable_after_us"] = disableAfter.Microseconds()
	err = s.db.Send(ctx, pgdb.RetrySafe, settings(ctx, c), func(b *pgx.Batch) {
		if failure == "" {
			b.Queue(recordSuccessSQL, args)
		} else {
			b.Queue(recordFailureSQL, args)
		}
	}, func(br pgx.BatchResults) error {
		if failure == "" {
			_, err := br.Exec()
			return err
		}
		err := br.QueryRow().Scan(&disabled)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // deleted or disabled meanwhile
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("taskstore record delivery: %w", err)
	}
	return disabled, nil
}

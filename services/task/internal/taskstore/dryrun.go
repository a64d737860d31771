package taskstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// errDryRun ends a dry run's transaction: returned from its body, it makes
// pgdb.InTx roll back, and send reports success.
var errDryRun = errors.New("dry run: rolled back")

// DryRun returns a Store on the same database whose statements run in a
// transaction that is rolled back (see task.Store).
func (s *Store) DryRun() task.Store {
	d := *s
	d.dryRun = true
	return &d
}

// send is pgdb.DB.Send for the statements of s: one round trip, committed;
// or, when s is a dry run, the same statements in an explicit transaction
// that is rolled back once read has read their results. A dry run commits
// nothing, so it may always be retried.
func (s *Store) send(ctx context.Context, retry pgdb.Retry, settings []pgdb.Setting, queue func(b *pgx.Batch), read func(br pgx.BatchResults) error) error {
	if !s.dryRun {
		return s.db.Send(ctx, retry, settings, queue, read)
	}
	err := s.db.InTx(ctx, pgdb.RetrySafe, settings, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queue(b)
		br := tx.SendBatch(ctx, b)
		err := read(br)
		if cerr := br.Close(); cerr != nil && !errors.Is(err, cerr) {
			err = errors.Join(err, cerr)
		}
		if err != nil {
			return err
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	return nil
}

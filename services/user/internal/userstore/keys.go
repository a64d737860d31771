package userstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/todo-platform/todo/pkg/pgdb"
)

// The re-encryption of full names: a batch of the rows whose name is in
// clear text or sealed with another key than the primary is locked (rows a
// request holds are skipped and taken by a later batch), each name opened
// and sealed again, and the batch written back, in one transaction. A
// request reading a row meanwhile sees the old value, which its key still
// opens, or the new one.
const (
	staleNamesSQL = `
SELECT id, full_name, full_name_ct FROM "user"
WHERE CASE WHEN @to_plain::boolean THEN full_name_ct IS NOT NULL
           ELSE full_name IS NOT NULL OR substring(full_name_ct FROM 1 FOR 5) <> @prefix::bytea END
ORDER BY id
LIMIT @limit
FOR UPDATE SKIP LOCKED`
	writeNamesSQL = `
UPDATE "user" AS u SET full_name = v.plain, full_name_ct = v.sealed
FROM unnest(@ids::bigint[], @plain::text[], @sealed::bytea[]) AS v(id, plain, sealed)
WHERE u.id = v.id`
	countStaleNamesSQL = `
SELECT count(*) FROM "user"
WHERE CASE WHEN @to_plain::boolean THEN full_name_ct IS NOT NULL
           ELSE full_name IS NOT NULL OR substring(full_name_ct FROM 1 FOR 5) <> @prefix::bytea END`
)

// NamesToReencrypt returns how many full names are not sealed with the
// cipher's primary key (in clear text, or under an older key).
func (s *Store) NamesToReencrypt(ctx context.Context) (int64, error) {
	prefix, err := s.cipher.PrimaryPrefix()
	if err != nil {
		return 0, fmt.Errorf("userstore names to re-encrypt: %w", err)
	}
	var n int64
	err = s.send(ctx, "names to re-encrypt", pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(countStaleNamesSQL, pgx.NamedArgs{"prefix": prefix, "to_plain": false})
	}, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&n)
	})
	return n, err
}

// ReencryptNames seals with the primary key up to limit full names that
// are in clear text or sealed with an older key, and returns how many it
// rewrote; 0 means none is left (but for rows locked by requests right
// now, which a later call takes). With toPlain it does the reverse: it
// writes up to limit sealed names back in clear text, for a migration down.
// A name that does not open (sealed for another row or with a key no longer
// held) stops it with an error naming the row.
func (s *Store) ReencryptNames(ctx context.Context, limit int, toPlain bool) (int, error) {
	prefix, err := s.cipher.PrimaryPrefix()
	if err != nil {
		return 0, fmt.Errorf("userstore re-encrypt names: %w", err)
	}
	var done int
	err = s.db.InTx(ctx, pgdb.RetryIfNotSent, nil, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, staleNamesSQL, pgx.NamedArgs{"prefix": prefix, "to_plain": toPlain, "limit": limit})
		if err != nil {
			return fmt.Errorf("select names: %w", err)
		}
		type row struct {
			id     int64
			plain  pgtype.Text
			sealed []byte
		}
		stale, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var v row
			err := r.Scan(&v.id, &v.plain, &v.sealed)
			return v, err
		})
		if err != nil {
			return fmt.Errorf("select names: %w", err)
		}
		ids := make([]int64, len(stale))
		plain := make([]pgtype.Text, len(stale))
		sealed := make([][]byte, len(stale))
		for i, v := range stale {
			name := v.plain.String
			if v.sealed != nil {
				pt, err := s.cipher.Decrypt(v.sealed, fullNameAD(v.id))
				if err != nil {
					return fmt.Errorf("open the full name of user %d: %w", v.id, err)
				}
				name = string(pt)
			}
			ids[i] = v.id
			if toPlain {
				plain[i] = pgtype.Text{String: name, Valid: true}
				continue
			}
			if sealed[i], err = s.sealName(v.id, name); err != nil {
				return err
			}
		}
		if len(ids) == 0 {
			done = 0
			return nil
		}
		if _, err := tx.Exec(ctx, writeNamesSQL, pgx.NamedArgs{"ids": ids, "plain": plain, "sealed": sealed}); err != nil {
			return fmt.Errorf("write names: %w", err)
		}
		done = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("userstore re-encrypt names: %w", err)
	}
	return done, nil
}

package userstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/user/internal/user"
)

// patColumns are the columns scanPAT reads, in order.
const patColumns = `t.id, t.user_id, t.name, t.scope = 'read_only', t.created_at, t.expires_at, t.revoked_at`

func scanPAT(row scanner) (user.PersonalAccessToken, error) {
	var (
		t       user.PersonalAccessToken
		revoked pgtype.Timestamptz
	)
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.ReadOnly, &t.CreatedAt, &t.ExpiresAt, &revoked); err != nil {
		return user.PersonalAccessToken{}, err
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	if revoked.Valid {
		t.RevokedAt = revoked.Time.UTC()
	}
	return t, nil
}

const createPATSQL = `
INSERT INTO personal_access_token AS t (user_id, name, scope, token_hash, expires_at)
VALUES (@user_id, @name, CASE WHEN @read_only::boolean THEN 'read_only' ELSE 'read_write' END, @token_hash, @expires_at)
RETURNING ` + patColumns

// CreatePAT stores a token. A second run would fail on the hash's
// uniqueness, so it is retried only when it cannot have run.
func (s *Store) CreatePAT(ctx context.Context, id int64, t user.NewPAT, hash []byte, audit ...user.Event) (user.PersonalAccessToken, error) {
	var out user.PersonalAccessToken
	err := s.send(ctx, "create personal access token", pgdb.RetryIfNotSent, func(b *pgx.Batch) {
		b.Queue(createPATSQL, pgx.NamedArgs{"user_id": id, "name": t.Name, "read_only": t.ReadOnly, "token_hash": hash, "expires_at": t.ExpiresAt})
	}, func(br pgx.BatchResults) error {
		var err error
		out, err = scanPAT(br.QueryRow())
		return err
	}, audit...)
	return out, err
}

const patsSQL = `SELECT ` + patColumns + ` FROM personal_access_token t WHERE t.user_id = @user_id ORDER BY t.id DESC LIMIT 1000`

// PATs returns the tokens of user id, newest first (at most 1000).
func (s *Store) PATs(ctx context.Context, id int64) ([]user.PersonalAccessToken, error) {
	var out []user.PersonalAccessToken
	err := s.send(ctx, "list personal access tokens", pgdb.RetrySafe, func(b *pgx.Batch) {
		b.Queue(patsSQL, pgx.NamedArgs{"user_id": id})
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.PersonalAccessToken, error) { return scanPAT(r) })
		return err
	})
	return out, err
}

const revokePATSQL = `
UPDATE personal_access_token AS t SET revoked_at = coalesce(t.revoked_at, now())
WHERE t.id = @id AND (@owner::bigint = 0 OR t.user_id = @owner)
RETURNING ` + patColumns

// RevokePAT revokes a token; revoking it again changes nothing but writes
// its audit event again, so it is retried only when it cannot have run.
func (s *Store) RevokePAT(ctx context.Context, id, owner int64, audit ...user.Event) (user.PersonalAccessToken, error) {
	var out user.PersonalAccessToken
	err := s.inTx(ctx, "revoke personal access token", func(tx pgx.Tx) error {
		var err error
		out, err = scanPAT(tx.QueryRow(ctx, revokePATSQL, pgx.NamedArgs{"id": id, "owner": owner}))
		if errors.Is(err, pgx.ErrNoRows) {
			return user.ErrPATNotFound
		}
		if err != nil {
			return err
		}
		return auditTx(ctx, tx, out.UserID, audit)
	})
	return out, err
}

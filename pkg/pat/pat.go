// Package pat looks up personal access tokens in the database for an
// auth.Verifier (auth.WithPATs), through personal_access_token_check (user
// set, migration 00010), which both services' roles may call and which
// answers for one token hash only.
package pat

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/todo-platform/todo/pkg/auth"
)

// lookupTimeout bounds one lookup.
const lookupTimeout = 5 * time.Second

// Source is an auth.PATSource on a pool.
type Source struct {
	pool *pgxpool.Pool
}

var _ auth.PATSource = (*Source)(nil)

// NewSource returns a Source on pool.
func NewSource(pool *pgxpool.Pool) *Source { return &Source{pool: pool} }

const checkSQL = `SELECT token_id, user_id, is_admin, read_only, expires_at, token_hash FROM personal_access_token_check($1)`

// LookupPAT returns the live token whose hash is hash, or
// auth.ErrInvalidToken.
func (s *Source) LookupPAT(ctx context.Context, hash []byte) (auth.PATInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	var (
		info   auth.PATInfo
		stored []byte
	)
	err := s.pool.QueryRow(ctx, checkSQL, hash).Scan(&info.TokenID, &info.UserID, &info.Admin, &info.ReadOnly, &info.Expires, &stored)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return auth.PATInfo{}, auth.ErrInvalidToken
	case err != nil:
		return auth.PATInfo{}, fmt.Errorf("personal access token lookup: %w", err)
	case subtle.ConstantTimeCompare(stored, hash) != 1:
		return auth.PATInfo{}, auth.ErrInvalidToken
	}
	return info, nil
}

package pgtest

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Snapshot returns the contents of every table of the database (each row as
// text, tables and rows in a fixed order), read as the owner: two equal
// snapshots mean nothing was written in between.
func (db *DB) Snapshot(t testing.TB) string {
	t.Helper()
	ctx := t.Context()
	rows, err := db.Owner.Query(ctx, `
		SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		ORDER BY 1, 2`)
	if err != nil {
		t.Fatalf("pgtest: list tables: %v", err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgx.Identifier, error) {
		var schema, name string
		err := r.Scan(&schema, &name)
		return pgx.Identifier{schema, name}, err
	})
	if err != nil {
		t.Fatalf("pgtest: list tables: %v", err)
	}
	var b strings.Builder
	for _, tbl := range tables {
		var content string
		q := `SELECT coalesce(string_agg(t::text, E'\n' ORDER BY t::text), '') FROM ` + tbl.Sanitize() + ` t`
		if err := db.Owner.QueryRow(ctx, q).Scan(&content); err != nil {
			t.Fatalf("pgtest: read %s: %v", tbl.Sanitize(), err)
		}
		b.WriteString(tbl.Sanitize() + ":\n" + content + "\n")
	}
	return b.String()
}

package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/todo-platform/todo/pkg/envcfg"
	"github.com/todo-platform/todo/pkg/keyring/keyringtest"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/testkit"
)

// TestAdminCreate_RefusesUnfitRolesAndNamesTheVariable runs admin create in
// the process: like serve it refuses a role that bypasses row-level
// security, and the domain's refusals come back under the variable that
// carried the value.
func TestAdminCreate_RefusesUnfitRolesAndNamesTheVariable(t *testing.T) {
	db := pgtest.New(t)
	alice := db.SeedUser(t, pgtest.User{Name: "alice", Active: true})
	bob := db.SeedUser(t, pgtest.User{Name: "bob", Active: true})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, ringFile := keyringtest.New(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"superuser", map[string]string{"DATABASE_URL": db.OwnerURL}, "superuser"},
		{"bad email", map[string]string{"ADMIN_EMAIL": "root"}, `ADMIN_EMAIL "root"`},
		{"bad username", map[string]string{"ADMIN_USERNAME": "Root!"}, `ADMIN_USERNAME "Root!"`},
		{"short password", map[string]string{"ADMIN_PASSWORD": "short"}, "ADMIN_PASSWORD: password must be 12 to 128 characters long"},
		{"no password for a new user", map[string]string{"ADMIN_PASSWORD": ""}, "ADMIN_PASSWORD is required"},
		{"email and username of two users", map[string]string{"ADMIN_EMAIL": "alice@example.com", "ADMIN_USERNAME": "bob"},
			fmt.Sprintf(`ADMIN_EMAIL "alice@example.com" belongs to user %d and ADMIN_USERNAME "bob" to user %d`, alice, bob)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{
				"DATABASE_URL":      db.UserAppURL,
				"DATA_KEYRING_FILE": ringFile,
				"ADMIN_EMAIL":       "root@example.com",
				"ADMIN_USERNAME":    "root",
				"ADMIN_PASSWORD":    "a long admin password",
			}
			for k, v := range tc.env {
				env[k] = v
			}
			for k, v := range env {
				t.Setenv(k, v)
			}
			cfg, err := envcfg.Load[config]()
			if err != nil {
				t.Fatal(err)
			}
			err = adminCreate(testkit.Context(t), log, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("admin create: %v, want an error containing %q", err, tc.want)
			}
			var admins int
			if err := db.Owner.QueryRow(testkit.Context(t), `SELECT count(*) FROM "user" WHERE is_admin`).Scan(&admins); err != nil {
				t.Fatal(err)
			}
			if admins != 0 {
				t.Errorf("a refused admin create made %d admins", admins)
			}
		})
	}
}

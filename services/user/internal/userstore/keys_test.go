package userstore_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/todo-platform/todo/pkg/keyring"
	"github.com/todo-platform/todo/pkg/keyring/keyringtest"
	"github.com/todo-platform/todo/pkg/pgtest"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/user/internal/user"
	"github.com/todo-platform/todo/services/user/internal/userstore"
)

// stored returns the row's full_name and full_name_ct as the table owner
// reads them.
func stored(t *testing.T, db *pgtest.DB, id int64) (*string, []byte) {
	t.Helper()
	var (
		plain  *string
		sealed []byte
	)
	if err := db.Owner.QueryRow(context.Background(), `SELECT full_name, full_name_ct FROM "user" WHERE id = $1`, id).Scan(&plain, &sealed); err != nil {
		t.Fatal(err)
	}
	return plain, sealed
}

func create(t *testing.T, s *userstore.Store, ctx context.Context, name, fullName string) user.User {
	t.Helper()
	u, err := s.CreateUser(ctx, user.NewUser{Email: name + "@example.com", Username: name, FullName: fullName, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestFullName_StoredSealedAndBoundToItsRow(t *testing.T) {
	s, db, ctx := setup(t)
	ann := create(t, s, ctx, "ann", "Ann Anderson")
	bob := create(t, s, ctx, "bob", "Bob Brown")
	nobody := create(t, s, ctx, "cat", "")

	for _, u := range []user.User{ann, bob} {
		plain, sealed := stored(t, db, u.ID)
		if plain != nil || sealed == nil || bytes.Contains(sealed, []byte(u.FullName)) || bytes.Contains(sealed, []byte(strings.Fields(u.FullName)[0])) {
			t.Errorf("user %d as the owner reads it: full_name %v, full_name_ct %x; want no clear text anywhere", u.ID, plain, sealed)
		}
		got, err := s.User(ctx, u.ID)
		if err != nil || got.FullName != u.FullName {
			t.Errorf("User(%d).FullName = %q, %v; want %q", u.ID, got.FullName, err, u.FullName)
		}
	}
	if plain, sealed := stored(t, db, nobody.ID); plain != nil || sealed != nil {
		t.Errorf("no full name is stored as %v, %x; want NULL, NULL", plain, sealed)
	}

	// An update seals the new name for the same row.
	name := "Ann Archer"
	if u, err := s.UpdateUser(ctx, ann.ID, user.Update{FullName: &name}); err != nil || u.FullName != name {
		t.Fatalf("UpdateUser: %q, %v", u.FullName, err)
	}
	if plain, sealed := stored(t, db, ann.ID); plain != nil || bytes.Contains(sealed, []byte("Archer")) {
		t.Errorf("after the update: full_name %v, full_name_ct %x", plain, sealed)
	}

	// Bob's ciphertext copied into Ann's row does not open there.
	if _, err := db.Owner.Exec(ctx, `UPDATE "user" SET full_name_ct = (SELECT full_name_ct FROM "user" WHERE id = $2) WHERE id = $1`, ann.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.User(ctx, ann.ID)
	if err == nil {
		t.Fatalf("User(ann) with Bob's ciphertext = %+v, want an error", got)
	}
	if strings.Contains(err.Error(), "Bob") || got.FullName != "" {
		t.Errorf("the error shows Bob's name: %v (%q)", err, got.FullName)
	}
	if got, err := s.User(ctx, bob.ID); err != nil || got.FullName != "Bob Brown" {
		t.Errorf("Bob still reads %q, %v", got.FullName, err)
	}
}

func TestReencryptNames_RotateThenReencryptWhileReading(t *testing.T) {
	db := pgtest.New(t)
	ctx := testkit.Context(t)
	ring, path := keyringtest.New(t)
	s := userstore.New(db.UserApp, ring)

	names := map[int64]string{}
	for _, n := range []string{"ann", "bob", "cat", "dan", "eve", "fay"} {
		u := create(t, s, ctx, n, strings.ToUpper(n[:1])+n[1:]+" Smith")
		names[u.ID] = u.FullName
	}
	// A name written before encryption (or by an older version) is in
	// clear text until re-encryption.
	legacy := db.SeedUser(t, pgtest.User{Name: "old", Active: true})
	if _, err := db.Owner.Exec(ctx, `UPDATE "user" SET full_name = 'Olga Old' WHERE id = $1`, legacy); err != nil {
		t.Fatal(err)
	}
	names[legacy] = "Olga Old"
	if got, err := s.User(ctx, legacy); err != nil || got.FullName != "Olga Old" {
		t.Fatalf("a clear-text name reads %q, %v", got.FullName, err)
	}

	newID, err := keyring.Rotate(path)
	if err != nil {
		t.Fatal(err)
	}
	if left, err := s.NamesToReencrypt(ctx); err != nil || left != int64(len(names)) {
		t.Fatalf("after rotate NamesToReencrypt = %d, %v; want %d", left, err, len(names))
	}

	// Requests read every name while re-encryption runs, one row per
	// transaction.
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan string, 100)
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				for id, want := range names {
					if got, err := s.User(ctx, id); err != nil || got.FullName != want {
						select {
						case errs <- got.FullName + " / " + want:
						default:
						}
					}
				}
			}
		})
	}
	total := 0
	for {
		n, err := s.ReencryptNames(ctx, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	close(done)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a read during re-encryption: got / want %s", e)
	}
	if total != len(names) {
		t.Errorf("re-encrypted %d names, want %d", total, len(names))
	}
	if left, err := s.NamesToReencrypt(ctx); err != nil || left != 0 {
		t.Errorf("after reencrypt NamesToReencrypt = %d, %v; want 0", left, err)
	}
	for id, want := range names {
		plain, sealed := stored(t, db, id)
		if got, _ := keyring.KeyID(sealed); plain != nil || got != newID {
			t.Errorf("user %d: full_name %v, key %d; want NULL and the new key %d", id, plain, got, newID)
		}
		if got, err := s.User(ctx, id); err != nil || got.FullName != want {
			t.Errorf("user %d after reencrypt: %q, %v; want %q", id, got.FullName, err, want)
		}
	}

	// The old key can go now; the names still read.
	if n, err := keyring.Prune(path); err != nil || n != 1 {
		t.Fatalf("Prune: %d, %v", n, err)
	}
	for id, want := range names {
		if got, err := s.User(ctx, id); err != nil || got.FullName != want {
			t.Errorf("user %d after prune: %q, %v; want %q", id, got.FullName, err, want)
		}
	}

	// decrypt (before a migration down) writes them back in clear text.
	for {
		n, err := s.ReencryptNames(ctx, 100, true)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	for id, want := range names {
		if plain, sealed := stored(t, db, id); plain == nil || *plain != want || sealed != nil {
			t.Errorf("user %d after decrypt: %v, %x; want %q in clear text", id, plain, sealed, want)
		}
	}
}

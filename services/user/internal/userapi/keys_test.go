package userapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/testkit"
)

func TestGetPublicKeys_PublishesTheSigningKeyWithoutAToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := b.client.GetPublicKeys(testkit.Context(t), &userv1.GetPublicKeysRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(resp.GetKeys()); got != 1 {
		t.Fatalf("got %d keys, want 1", got)
	}
	p := resp.GetKeys()[0]
	k, err := auth.ParseJWK(auth.JWK{Kid: p.GetKid(), Kty: p.GetKty(), Crv: p.GetCrv(), X: p.GetX(), Alg: p.GetAlg(), Use: p.GetUse()})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.KeyID, b.signer.KeyID(); got != want {
		t.Errorf("kid = %q, want %q", got, want)
	}
	if !k.Key.Equal(b.signer.PublicKey().Key) {
		t.Error("published key is not the signing key's public half")
	}
}

func TestBatchGetUsers_SaysWhichExistAndAreActive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, token := b.signedIn(t, "alice")
	bob := b.signUp(t, "bob@example.com", "bob", "correct horse battery")
	if _, err := b.db.Owner.Exec(testkit.Context(t), `UPDATE "user" SET is_active = false WHERE id = $1`, bob.GetId()); err != nil {
		t.Fatal(err)
	}
	resp, err := b.client.BatchGetUsers(as(testkit.Context(t), token), &userv1.BatchGetUsersRequest{Ids: []int64{alice.GetId(), bob.GetId(), 999999}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]*userv1.UserSummary{}
	for _, u := range resp.GetUsers() {
		got[u.GetId()] = u
	}
	if len(got) != 2 {
		t.Fatalf("got %d users, want 2: %v", len(got), resp.GetUsers())
	}
	if u := got[alice.GetId()]; u.GetUsername() != "alice" || !u.GetIsActive() {
		t.Errorf("alice = %v", u)
	}
	if u := got[bob.GetId()]; u.GetUsername() != "bob" || u.GetIsActive() {
		t.Errorf("bob = %v", u)
	}

	_, err = b.client.BatchGetUsers(testkit.Context(t), &userv1.BatchGetUsersRequest{Ids: []int64{alice.GetId()}})
	wantCode(t, err, codes.Unauthenticated)
}

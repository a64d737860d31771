package taskapi_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/pkg/testkit"
	"github.com/todo-platform/todo/services/task/internal/task"
	"github.com/todo-platform/todo/services/task/internal/taskstore"
)

// TestSoftDelete_DeleteHidesUndeleteRestores: a deleted task reads as
// missing to everyone (Get, List, Stats, writes); its creator undeletes it
// and gets it back with a new etag, which conditions the next write as
// any etag does; the assignee and a stranger cannot undelete it.
func TestSoftDelete_DeleteHidesUndeleteRestores(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "soft"})
	tk, err := cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.b})
	if err != nil {
		t.Fatal(err)
	}
	id := tk.GetId()
	if _, err := cl.DeleteTask(bn.asA(t), &taskv1.DeleteTaskRequest{Id: id, Etag: tk.GetEtag()}); err != nil {
		t.Fatal(err)
	}

	for name, as := range map[string]func(*testing.T) context.Context{"creator": bn.asA, "assignee": bn.asB, "admin": bn.asAdmin} {
		_, err := cl.GetTask(as(t), &taskv1.GetTaskRequest{Id: id})
		wantStatus(t, err, codes.NotFound)
		list, err := cl.ListTasks(as(t), &taskv1.ListTasksRequest{})
		if err != nil || len(list.GetTasks()) != 0 {
			t.Errorf("%s lists %v, %v after the delete; want nothing", name, list.GetTasks(), err)
		}
	}
	if st, err := cl.GetTaskStats(bn.asA(t), &taskv1.GetTaskStatsRequest{}); err != nil || st.GetTotal() != 0 {
		t.Errorf("stats after the delete: %v, %v; want total 0", st, err)
	}
	_, err = cl.UpdateTask(bn.asA(t), &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: id, Title: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
	wantStatus(t, err, codes.NotFound)
	_, err = cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: id, AssigneeId: bn.c})
	wantStatus(t, err, codes.NotFound)
	_, err = cl.DeleteTask(bn.asA(t), &taskv1.DeleteTaskRequest{Id: id})
	wantStatus(t, err, codes.NotFound)

	// Only the creator and admins may undelete; to the others it is missing.
	for _, as := range []func(*testing.T) context.Context{bn.asB, bn.asC} {
		_, err := cl.UndeleteTask(as(t), &taskv1.UndeleteTaskRequest{Id: id})
		wantStatus(t, err, codes.NotFound)
	}
	back, err := cl.UndeleteTask(bn.asA(t), &taskv1.UndeleteTaskRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	if back.GetDeletedAt() != nil || back.GetAssignedTo() != bn.b || back.GetTitle() != "soft" {
		t.Errorf("undeleted task %v", back)
	}
	if back.GetEtag() == tk.GetEtag() {
		t.Errorf("etag after delete and undelete is still %q", back.GetEtag())
	}
	for _, as := range []func(*testing.T) context.Context{bn.asA, bn.asB} {
		got, err := cl.GetTask(as(t), &taskv1.GetTaskRequest{Id: id})
		if err != nil || got.GetEtag() != back.GetEtag() {
			t.Errorf("GET after undelete: %v, %v; want etag %q", got, err, back.GetEtag())
		}
	}
	// The etag read before the delete is stale; the new one works.
	_, err = cl.UpdateTask(bn.asA(t), &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: id, Title: "x", Etag: tk.GetEtag()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
	wantStatus(t, err, codes.Aborted)
	if _, err := cl.UpdateTask(bn.asA(t), &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: id, Title: "x", Etag: back.GetEtag()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}); err != nil {
		t.Errorf("update with the etag of the undelete: %v", err)
	}
	// A live task cannot be undeleted.
	_, err = cl.UndeleteTask(bn.asA(t), &taskv1.UndeleteTaskRequest{Id: id})
	wantStatus(t, err, codes.FailedPrecondition, "id")

	events, _ := allEvents(t, bn, bn.asA(t), id, 50)
	if got, want := actions(events), []string{"task.update", "task.undelete", "task.delete", "task.assign", "task.create"}; !slices.Equal(got, want) {
		t.Errorf("history %q, want %q", got, want)
	}
}

// TestSoftDelete_ShowDeletedIsForAdmins: an admin lists the deleted tasks
// with show_deleted, each with its deleted_at; anyone else is refused.
func TestSoftDelete_ShowDeletedIsForAdmins(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	live := bn.create(t, bn.asA(t), &taskv1.Task{Title: "live"})
	gone := bn.create(t, bn.asA(t), &taskv1.Task{Title: "gone"})
	if _, err := cl.DeleteTask(bn.asA(t), &taskv1.DeleteTaskRequest{Id: gone.GetId()}); err != nil {
		t.Fatal(err)
	}
	list, err := cl.ListTasks(bn.asAdmin(t), &taskv1.ListTasksRequest{ShowDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := list.GetTasks(); len(got) != 2 || got[0].GetId() != gone.GetId() || got[0].GetDeletedAt() == nil || got[1].GetId() != live.GetId() || got[1].GetDeletedAt() != nil {
		t.Errorf("admin's show_deleted listing: %v; want gone (with deleted_at), live", got)
	}
	if list, err := cl.ListTasks(bn.asAdmin(t), &taskv1.ListTasksRequest{}); err != nil || len(list.GetTasks()) != 1 {
		t.Errorf("admin's listing without show_deleted: %v, %v; want the live task only", list.GetTasks(), err)
	}
	// A page token of one listing is refused by the other.
	first, err := cl.ListTasks(bn.asAdmin(t), &taskv1.ListTasksRequest{ShowDeleted: true, PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	_, err = cl.ListTasks(bn.asAdmin(t), &taskv1.ListTasksRequest{PageToken: first.GetNextPageToken(), PageSize: 1})
	wantStatus(t, err, codes.InvalidArgument, "page_token")
	_, err = cl.ListTasks(bn.asA(t), &taskv1.ListTasksRequest{ShowDeleted: true})
	wantStatus(t, err, codes.PermissionDenied)
}

// TestSoftDelete_PurgeAfterRetention: once a task was deleted longer ago
// than the retention (its deleted_at moved back, as a clock would move
// forward), undelete answers NotFound and the purge removes the row for
// good, leaving its history (with the purge) to its creator; a task deleted
// within the retention stays.
func TestSoftDelete_PurgeAfterRetention(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	ctx := testkit.Context(t)
	old := bn.create(t, bn.asA(t), &taskv1.Task{Title: "old"})
	recent := bn.create(t, bn.asA(t), &taskv1.Task{Title: "recent"})
	for _, tk := range []*taskv1.Task{old, recent} {
		if _, err := cl.DeleteTask(bn.asA(t), &taskv1.DeleteTaskRequest{Id: tk.GetId()}); err != nil {
			t.Fatal(err)
		}
	}
	retention := task.DefaultDeletedRetention
	// Time travel is not a change of the task: the triggers are off for it.
	tx, err := bn.db.Owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	for id, age := range map[int64]time.Duration{old.GetId(): retention + time.Hour, recent.GetId(): retention - time.Hour} {
		if _, err := tx.Exec(ctx, `UPDATE task SET deleted_at = now() - $2::bigint * interval '1 second' WHERE id = $1`, id, int64(age/time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = cl.UndeleteTask(bn.asA(t), &taskv1.UndeleteTaskRequest{Id: old.GetId()})
	wantStatus(t, err, codes.NotFound)

	n, err := taskstore.New(bn.db.TaskApp).PurgeDeleted(ctx, retention)
	if err != nil || n != 1 {
		t.Fatalf("PurgeDeleted = %d, %v; want 1", n, err)
	}
	var ids []int64
	rows, err := bn.db.Owner.Query(ctx, `SELECT id FROM task ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if want := []int64{recent.GetId()}; !slices.Equal(ids, want) {
		t.Errorf("rows left %v, want %v", ids, want)
	}
	events, _ := allEvents(t, bn, bn.asA(t), old.GetId(), 50)
	if got, want := actions(events), []string{"task.purge", "task.delete", "task.create"}; !slices.Equal(got, want) {
		t.Errorf("purged task's history %q, want %q", got, want)
	}
	if events[0].GetActorKind() != taskv1.AuditActorKind_AUDIT_ACTOR_KIND_SYSTEM {
		t.Errorf("purge recorded as %v, want SYSTEM", events[0].GetActorKind())
	}
	_, err = cl.UndeleteTask(bn.asA(t), &taskv1.UndeleteTaskRequest{Id: old.GetId()})
	wantStatus(t, err, codes.NotFound)
	if _, err := cl.UndeleteTask(bn.asA(t), &taskv1.UndeleteTaskRequest{Id: recent.GetId()}); err != nil {
		t.Errorf("undelete within the retention: %v", err)
	}
}

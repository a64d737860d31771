package taskapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// changes reads as's feed from since until it has want changes or a
// deadline passes (other tests' transactions on the shared cluster may
// hold the feed's horizon back for a moment), and returns them with the
// last token.
func changes(t *testing.T, bn *bundle, as func(*testing.T) context.Context, since string, want int) ([]*taskv1.TaskChange, string) {
	t.Helper()
	var got []*taskv1.TaskChange
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := bn.client.ListTaskChanges(as(t), &taskv1.ListTaskChangesRequest{Since: since, PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.GetChanges()...)
		since = resp.GetNextToken()
		if resp.GetHasMore() {
			continue
		}
		if len(got) >= want || time.Now().After(deadline) {
			return got, since
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// firstToken returns the token of now for as.
func firstToken(t *testing.T, bn *bundle, as func(*testing.T) context.Context) string {
	t.Helper()
	resp, err := bn.client.ListTaskChanges(as(t), &taskv1.ListTaskChangesRequest{})
	if err != nil || len(resp.GetChanges()) != 0 || resp.GetNextToken() == "" {
		t.Fatalf("first call: %v, %v; want no change and a token", resp, err)
	}
	return resp.GetNextToken()
}

type changeShape struct {
	typ       taskv1.TaskChangeType
	title     string // of the task; "" for a tombstone
	tombstone taskv1.TombstoneReason
}

func shapes(chs []*taskv1.TaskChange) []changeShape {
	var out []changeShape
	for _, c := range chs {
		out = append(out, changeShape{c.GetType(), c.GetTask().GetTitle(), c.GetTombstone().GetReason()})
	}
	return out
}

func equalShapes(a, b []changeShape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestListTaskChanges_Journey: after create, update, assign to B and delete
// by A, A's feed from an earlier token lists the four changes in order,
// B's the assignment and then a tombstone, C's nothing; an undelete brings
// the task back to both.
func TestListTaskChanges_Journey(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	sinceA, sinceB, sinceC := firstToken(t, bn, bn.asA), firstToken(t, bn, bn.asB), firstToken(t, bn, bn.asC)

	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "feed"})
	if _, err := cl.UpdateTask(bn.asA(t), &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: tk.GetId(), Title: "feed 2"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.b}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.DeleteTask(bn.asA(t), &taskv1.DeleteTaskRequest{Id: tk.GetId()}); err != nil {
		t.Fatal(err)
	}
	// A validate_only write is no change.
	if _, err := cl.CreateTask(bn.asA(t), &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "dry"}, ValidateOnly: true}); err != nil {
		t.Fatal(err)
	}

	gotA, nextA := changes(t, bn, bn.asA, sinceA, 4)
	wantA := []changeShape{
		{taskv1.TaskChangeType_TASK_CHANGE_TYPE_CREATED, "feed", 0},
		{taskv1.TaskChangeType_TASK_CHANGE_TYPE_UPDATED, "feed 2", 0},
		{taskv1.TaskChangeType_TASK_CHANGE_TYPE_ASSIGNED, "feed 2", 0},
		{taskv1.TaskChangeType_TASK_CHANGE_TYPE_DELETED, "", taskv1.TombstoneReason_TOMBSTONE_REASON_DELETED},
	}
	if got := shapes(gotA); !equalShapes(got, wantA) {
		t.Errorf("A's feed %v, want %v", got, wantA)
	}
	if len(gotA) == 4 {
		if gotA[2].GetTask().GetAssignedTo() != bn.b || gotA[2].GetTask().GetEtag() != "v3" {
			t.Errorf("assignment carries %v, want the task assigned to B at v3", gotA[2].GetTask())
		}
		if gotA[3].GetTombstone().GetTaskId() != tk.GetId() || gotA[3].GetTask() != nil {
			t.Errorf("delete: %v, want a tombstone of task %d", gotA[3], tk.GetId())
		}
	}
	gotB, nextB := changes(t, bn, bn.asB, sinceB, 2)
	wantB := []changeShape{
		{taskv1.TaskChangeType_TASK_CHANGE_TYPE_ASSIGNED, "feed 2", 0},
		{taskv1.TaskChangeType_TASK_CHANGE_TYPE_DELETED, "", taskv1.TombstoneReason_TOMBSTONE_REASON_DELETED},
	}
	if got := shapes(gotB); !equalShapes(got, wantB) {
		t.Errorf("B's feed %v, want %v", got, wantB)
	}
	// C's feed stays empty; a later change reaches it, so the emptiness
	// is not a lagging horizon.
	bn.create(t, bn.asC(t), &taskv1.Task{Title: "C's own"})
	gotC, _ := changes(t, bn, bn.asC, sinceC, 1)
	if got, want := shapes(gotC), []changeShape{{taskv1.TaskChangeType_TASK_CHANGE_TYPE_CREATED, "C's own", 0}}; !equalShapes(got, want) {
		t.Errorf("C's feed %v, want only its own task", got)
	}

	// Unassigning is a tombstone for the former assignee only.
	if _, err := cl.UndeleteTask(bn.asA(t), &taskv1.UndeleteTaskRequest{Id: tk.GetId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: 0}); err != nil {
		t.Fatal(err)
	}
	gotA, _ = changes(t, bn, bn.asA, nextA, 2)
	if got, want := shapes(gotA), []changeShape{
		{taskv1.TaskChangeType_TASK_CHANGE_TYPE_UNDELETED, "feed 2", 0},
		{taskv1.TaskChangeType_TASK_CHANGE_TYPE_UNASSIGNED, "feed 2", 0},
	}; !equalShapes(got, want) {
		t.Errorf("A's feed after undelete and unassign %v, want %v", got, want)
	}
	gotB, _ = changes(t, bn, bn.asB, nextB, 2)
	if got, want := shapes(gotB), []changeShape{
		{taskv1.TaskChangeType_TASK_CHANGE_TYPE_UNDELETED, "feed 2", 0},
		{taskv1.TaskChangeType_TASK_CHANGE_TYPE_UNASSIGNED, "", taskv1.TombstoneReason_TOMBSTONE_REASON_UNASSIGNED},
	}; !equalShapes(got, want) {
		t.Errorf("B's feed after undelete and unassign %v, want %v", got, want)
	}
}

// TestListTaskChanges_Tokens: a token of one user is refused for another
// and an altered one for anybody (InvalidArgument naming since); a token
// older than the retention is FailedPrecondition (resync).
func TestListTaskChanges_Tokens(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	tokenA := firstToken(t, bn, bn.asA)
	_, err := cl.ListTaskChanges(bn.asB(t), &taskv1.ListTaskChangesRequest{Since: tokenA})
	wantStatus(t, err, codes.InvalidArgument, "since")
	altered := []byte(tokenA)
	altered[3] ^= 1
	_, err = cl.ListTaskChanges(bn.asA(t), &taskv1.ListTaskChangesRequest{Since: string(altered)})
	wantStatus(t, err, codes.InvalidArgument, "since")
	_, err = cl.ListTaskChanges(bn.asA(t), &taskv1.ListTaskChangesRequest{Since: "not a token"})
	wantStatus(t, err, codes.InvalidArgument, "since")

	old := task.EncodeFeedToken(bn.a, task.FeedPosition{XID: 3}, time.Now().Add(-task.DefaultFeedRetention-time.Hour))
	_, err = cl.ListTaskChanges(bn.asA(t), &taskv1.ListTaskChangesRequest{Since: old})
	st := wantStatus(t, err, codes.FailedPrecondition, "since")
	if msg := st.Message(); !strings.Contains(msg, "resync") {
		t.Errorf("message %q does not say resync", msg)
	}
	recent := task.EncodeFeedToken(bn.a, task.FeedPosition{XID: 3}, time.Now().Add(-task.DefaultFeedRetention+time.Hour))
	if _, err := cl.ListTaskChanges(bn.asA(t), &taskv1.ListTaskChangesRequest{Since: recent}); err != nil {
		t.Errorf("a token within the retention: %v", err)
	}
}

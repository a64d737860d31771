package taskapi_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/pkg/pgdb"
)

// allEvents pages through ListTaskEvents with size and returns the events
// and the number of pages.
func allEvents(t *testing.T, bn *bundle, ctx context.Context, id int64, size int32) ([]*taskv1.TaskEvent, int) {
	t.Helper()
	var (
		out   []*taskv1.TaskEvent
		token string
		pages int
	)
	for {
		resp, err := bn.client.ListTaskEvents(ctx, &taskv1.ListTaskEventsRequest{Id: id, PageSize: size, PageToken: token})
		if err != nil {
			t.Fatalf("ListTaskEvents(%d, page %d): %v", id, pages+1, err)
		}
		pages++
		if len(resp.GetEvents()) > int(size) {
			t.Fatalf("page %d has %d events, more than %d", pages, len(resp.GetEvents()), size)
		}
		out = append(out, resp.GetEvents()...)
		if token = resp.GetNextPageToken(); token == "" {
			return out, pages
		}
		if pages > 20 {
			t.Fatal("ListTaskEvents does not end")
		}
	}
}

func actions(events []*taskv1.TaskEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.GetAction())
	}
	return out
}

// change returns the change of field in e, or nil.
func change(e *taskv1.TaskEvent, field string) *taskv1.FieldChange {
	for _, c := range e.GetChanges() {
		if c.GetField() == field {
			return c
		}
	}
	return nil
}

// TestListTaskEvents_Journey: create → update title → assign → complete (by
// the assignee) → delete leaves five events, which the creator pages
// through newest first two at a time, with the right actors and values;
// the assignee reads them while assigned and not after; a stranger gets the
// answer of a missing id.
func TestListTaskEvents_Journey(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "first"})
	id := tk.GetId()
	if _, err := cl.UpdateTask(bn.asA(t), &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: id, Title: "second"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: id, AssigneeId: bn.b}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.UpdateTask(bn.asB(t), &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: id, Status: taskv1.TaskStatus_TASK_STATUS_COMPLETED}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}}}); err != nil {
		t.Fatal(err)
	}

	// The assignee sees the history while assigned.
	if got, _ := allEvents(t, bn, bn.asB(t), id, 50); len(got) != 4 {
		t.Errorf("assignee reads %d events, want 4: %q", len(got), actions(got))
	}
	// A stranger gets exactly what a missing id gets.
	_, err := cl.ListTaskEvents(bn.asC(t), &taskv1.ListTaskEventsRequest{Id: id})
	st := wantStatus(t, err, codes.NotFound)
	_, errMissing := cl.ListTaskEvents(bn.asC(t), &taskv1.ListTaskEventsRequest{Id: id + 1000})
	_, errGet := cl.GetTask(bn.asC(t), &taskv1.GetTaskRequest{Id: id})
	for _, ref := range []error{errMissing, errGet} {
		if s, _ := status.FromError(ref); s.Code() != st.Code() || s.Message() != st.Message() {
			t.Errorf("stranger got %v %q; want the same as %v %q", st.Code(), st.Message(), s.Code(), s.Message())
		}
	}

	if err := func() error {
		_, err := cl.DeleteTask(bn.asA(t), &taskv1.DeleteTaskRequest{Id: id})
		return err
	}(); err != nil {
		t.Fatal(err)
	}

	got, pages := allEvents(t, bn, bn.asA(t), id, 2)
	want := []string{"task.delete", "task.status_change", "task.assign", "task.update", "task.create"}
	if !slices.Equal(actions(got), want) || pages != 3 {
		t.Fatalf("creator reads %q over %d pages, want %q over 3", actions(got), pages, want)
	}
	for i, e := range got {
		if i > 0 && e.GetTime().AsTime().After(got[i-1].GetTime().AsTime()) {
			t.Errorf("event %d (%s) is newer than event %d", i, e.GetAction(), i-1)
		}
		wantActor := bn.a
		if e.GetAction() == "task.status_change" {
			wantActor = bn.b
		}
		if e.GetActorKind() != taskv1.AuditActorKind_AUDIT_ACTOR_KIND_USER || e.GetActorId() != wantActor || e.GetTaskId() != id {
			t.Errorf("%s: actor %v %d, task %d; want user %d, task %d", e.GetAction(), e.GetActorKind(), e.GetActorId(), e.GetTaskId(), wantActor, id)
		}
	}
	if c := change(got[4], "title"); c == nil || c.GetOldValue() != nil || c.GetNewValue().GetStringValue() != "first" {
		t.Errorf("create: title change %v, want absent → first", c)
	}
	if c := got[3].GetChanges(); len(c) != 1 || c[0].GetField() != "title" || c[0].GetOldValue().GetStringValue() != "first" || c[0].GetNewValue().GetStringValue() != "second" {
		t.Errorf("update: changes %v, want only title first → second", c)
	}
	if c := change(got[2], "assigned_to"); c == nil || c.GetOldValue() != nil || c.GetNewValue().GetNumberValue() != float64(bn.b) {
		t.Errorf("assign: assigned_to change %v, want absent → %d", c, bn.b)
	}
	if c := change(got[1], "status"); c == nil || c.GetOldValue().GetStringValue() != "pending" || c.GetNewValue().GetStringValue() != "completed" {
		t.Errorf("complete: status change %v, want pending → completed", c)
	}
	if c := change(got[1], "completed_at"); c == nil || c.GetOldValue() != nil || c.GetNewValue().GetStringValue() == "" {
		t.Errorf("complete: completed_at change %v, want absent → a time", c)
	}
	if c := change(got[0], "title"); c == nil || c.GetOldValue().GetStringValue() != "second" || c.GetNewValue() != nil {
		t.Errorf("delete: title change %v, want second → absent", c)
	}

	// The deleted task: the creator and admins read its history (above and
	// here); the former assignee and a stranger get NotFound.
	if got, _ := allEvents(t, bn, bn.asAdmin(t), id, 10); len(got) != 5 {
		t.Errorf("admin reads %d events of the deleted task, want 5", len(got))
	}
	for name, ctx := range map[string]context.Context{"former assignee": bn.asB(t), "stranger": bn.asC(t)} {
		_, err := cl.ListTaskEvents(ctx, &taskv1.ListTaskEventsRequest{Id: id})
		if status.Code(err) != codes.NotFound {
			t.Errorf("%s reads the deleted task's history: %v, want NotFound", name, err)
		}
	}
}

// TestListTaskEvents_UnassignedLosesHistory: visibility follows the task as
// it is now: once unassigned, the former assignee gets NotFound.
func TestListTaskEvents_UnassignedLosesHistory(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "shared"})
	for _, who := range []int64{bn.b, 0} {
		if _, err := bn.client.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: who}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := bn.client.ListTaskEvents(bn.asB(t), &taskv1.ListTaskEventsRequest{Id: tk.GetId()})
	wantStatus(t, err, codes.NotFound)
	if got, _ := allEvents(t, bn, bn.asA(t), tk.GetId(), 50); !slices.Equal(actions(got), []string{"task.unassign", "task.assign", "task.create"}) {
		t.Errorf("creator reads %q", actions(got))
	}
}

// TestListTaskEvents_PageTokenBoundToTask: a token of one task's history is
// refused for another's.
func TestListTaskEvents_PageTokenBoundToTask(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	one := bn.create(t, bn.asA(t), &taskv1.Task{Title: "one"})
	two := bn.create(t, bn.asA(t), &taskv1.Task{Title: "two"})
	if _, err := bn.client.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: one.GetId(), AssigneeId: bn.b}); err != nil {
		t.Fatal(err)
	}
	resp, err := bn.client.ListTaskEvents(bn.asA(t), &taskv1.ListTaskEventsRequest{Id: one.GetId(), PageSize: 1})
	if err != nil || resp.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, token %q", err, resp.GetNextPageToken())
	}
	_, err = bn.client.ListTaskEvents(bn.asA(t), &taskv1.ListTaskEventsRequest{Id: two.GetId(), PageToken: resp.GetNextPageToken()})
	wantStatus(t, err, codes.InvalidArgument, "page_token")
}

// TestAuditEvents_RuntimeRoleReadsOnlyVisibleRows reads task_audit_event as
// the runtime role without any WHERE clause: row-level security alone
// limits a user to the rows of the tasks they created or are assigned now.
func TestAuditEvents_RuntimeRoleReadsOnlyVisibleRows(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	mine := bn.create(t, bn.asA(t), &taskv1.Task{Title: "A's"})
	theirs := bn.create(t, bn.asC(t), &taskv1.Task{Title: "C's"})
	if _, err := bn.client.AssignTask(bn.asC(t), &taskv1.AssignTaskRequest{Id: theirs.GetId(), AssigneeId: bn.b}); err != nil {
		t.Fatal(err)
	}
	targets := func(user int64, admin bool) []int64 {
		t.Helper()
		var ids []int64
		err := bn.db.TaskApp.Send(context.Background(), pgdb.RetrySafe, []pgdb.Setting{
			{Name: "app.user_id", Value: strconv.FormatInt(user, 10)}, {Name: "app.is_admin", Value: map[bool]string{true: "true", false: "false"}[admin]},
		}, func(b *pgx.Batch) { b.Queue(`SELECT DISTINCT target_id FROM task_audit_event ORDER BY 1`) }, func(br pgx.BatchResults) error {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	for _, tt := range []struct {
		name  string
		user  int64
		admin bool
		want  []int64
	}{
		{"creator A", bn.a, false, []int64{mine.GetId()}},
		{"assignee B", bn.b, false, []int64{theirs.GetId()}},
		{"creator C", bn.c, false, []int64{theirs.GetId()}},
		{"admin", bn.admin, true, []int64{mine.GetId(), theirs.GetId()}},
		{"nobody", 0, false, nil},
	} {
		if got := targets(tt.user, tt.admin); !slices.Equal(got, tt.want) {
			t.Errorf("%s reads the events of tasks %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestListTaskAuditEvents_AdminFilters: each filter of ListTaskAuditEvents selects
// exactly its events; paging covers them all once; non-admins are refused.
func TestListTaskAuditEvents_AdminFilters(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	before := time.Now().Add(-time.Second)
	ta := bn.create(t, bn.asA(t), &taskv1.Task{Title: "A's"})
	tc := bn.create(t, bn.asC(t), &taskv1.Task{Title: "C's"})
	if _, err := cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: ta.GetId(), AssigneeId: bn.b}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.DeleteTask(bn.asC(t), &taskv1.DeleteTaskRequest{Id: tc.GetId()}); err != nil {
		t.Fatal(err)
	}
	list := func(t *testing.T, req *taskv1.ListTaskAuditEventsRequest) []*taskv1.TaskEvent {
		t.Helper()
		var out []*taskv1.TaskEvent
		for {
			resp, err := cl.ListTaskAuditEvents(bn.asAdmin(t), req)
			if err != nil {
				t.Fatalf("ListTaskAuditEvents(%v): %v", req, err)
			}
			out = append(out, resp.GetEvents()...)
			if resp.GetNextPageToken() == "" {
				return out
			}
			req.PageToken = resp.GetNextPageToken()
		}
	}
	ptr := func(v int64) *int64 { return &v }
	future := timestamppb.New(time.Now().Add(time.Hour))
	for _, tt := range []struct {
		name string
		req  *taskv1.ListTaskAuditEventsRequest
		want []string
	}{
		{"all, one per page", &taskv1.ListTaskAuditEventsRequest{PageSize: 1}, []string{"task.delete", "task.assign", "task.create", "task.create"}},
		{"actor C", &taskv1.ListTaskAuditEventsRequest{ActorId: ptr(bn.c)}, []string{"task.delete", "task.create"}},
		{"action", &taskv1.ListTaskAuditEventsRequest{Action: "task.assign"}, []string{"task.assign"}},
		{"target (deleted)", &taskv1.ListTaskAuditEventsRequest{TaskId: ptr(tc.GetId())}, []string{"task.delete", "task.create"}},
		{"since before", &taskv1.ListTaskAuditEventsRequest{StartTime: timestamppb.New(before), PageSize: 3}, []string{"task.delete", "task.assign", "task.create", "task.create"}},
		{"since the future", &taskv1.ListTaskAuditEventsRequest{StartTime: future}, nil},
		{"until before", &taskv1.ListTaskAuditEventsRequest{EndTime: timestamppb.New(before)}, nil},
		{"until the future, actor A", &taskv1.ListTaskAuditEventsRequest{EndTime: future, ActorId: ptr(bn.a)}, []string{"task.assign", "task.create"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := actions(list(t, tt.req)); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	for name, ctx := range map[string]context.Context{"creator": bn.asA(t), "assignee": bn.asB(t), "stranger": bn.asC(t)} {
		_, err := cl.ListTaskAuditEvents(ctx, &taskv1.ListTaskAuditEventsRequest{})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: ListTaskAuditEvents = %v, want PermissionDenied", name, err)
		}
	}
}

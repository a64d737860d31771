package taskapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/testkit"
)

func TestCreateTask_DefaultsAndCompletion(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	got := bn.create(t, bn.asA(t), &taskv1.Task{Title: "defaults", Id: 99, CreatedBy: 12345, AssignedTo: new(int64(12345))})
	if got.GetStatus() != taskv1.TaskStatus_TASK_STATUS_PENDING || got.GetPriority() != taskv1.TaskPriority_TASK_PRIORITY_MEDIUM {
		t.Errorf("UNSPECIFIED became %v / %v, want PENDING / MEDIUM", got.GetStatus(), got.GetPriority())
	}
	if got.GetCreatedBy() != bn.a || got.AssignedTo != nil || got.GetId() == 99 || got.GetCompletedAt() != nil || got.GetEtag() == "" {
		t.Errorf("output-only fields taken from the request or missing: %v", got)
	}
	due := timestamppb.New(time.Date(2031, 2, 3, 4, 5, 6, 789000000, time.UTC))
	done := bn.create(t, bn.asA(t), &taskv1.Task{Title: "done", Status: taskv1.TaskStatus_TASK_STATUS_COMPLETED, DueDate: due, Description: "d"})
	if done.GetCompletedAt() == nil || !proto.Equal(done.GetDueDate(), due) || done.GetDescription() != "d" {
		t.Errorf("completed on create: %v", done)
	}
}

func TestCreateTask_InvalidInput(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	for _, tc := range []struct {
		name  string
		req   *taskv1.CreateTaskRequest
		field string
	}{
		{"no title", &taskv1.CreateTaskRequest{Task: &taskv1.Task{}}, "task.title"},
		{"blank title", &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "   "}}, "task.title"},
		{"long title", &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: strings.Repeat("x", 501)}}, "task.title"},
		{"unknown status", &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "x", Status: 7}}, "task.status"},
		{"unknown priority", &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "x", Priority: 9}}, "task.priority"},
		{"request_id not a uuid", &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "x"}, RequestId: "abc"}, "request_id"},
		{"no task", &taskv1.CreateTaskRequest{}, "task"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bn.client.CreateTask(bn.asA(t), tc.req)
			wantStatus(t, err, codes.InvalidArgument, tc.field)
		})
	}
}

func TestCreateTask_ConcurrentSameRequestIDGiveOneTask(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	const rid = "6f1c2b9a-3d4e-4f50-8a1b-2c3d4e5f6a7b"
	req := &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "once", Priority: taskv1.TaskPriority_TASK_PRIORITY_URGENT}, RequestId: rid}
	const callers = 20
	answers := make([]*taskv1.Task, callers)
	errs := make([]error, callers)
	ctxs := make([]context.Context, callers)
	for i := range ctxs {
		ctxs[i] = bn.asA(t)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			<-start
			resp, err := bn.client.CreateTask(ctxs[i], req)
			answers[i], errs[i] = resp, err
		})
	}
	close(start)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if !proto.Equal(answers[i], answers[0]) {
			t.Errorf("answer %d differs:\n%v\n%v", i, answers[i], answers[0])
		}
	}
	var rows int
	if err := bn.db.Owner.QueryRow(context.Background(), `SELECT count(*) FROM task WHERE title = 'once'`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("rows = %d, %v; want 1", rows, err)
	}

	// The same request_id with another task is refused and writes nothing.
	other := proto.Clone(req).(*taskv1.CreateTaskRequest)
	other.Task.Title = "twice"
	_, err := bn.client.CreateTask(bn.asA(t), other)
	wantStatus(t, err, codes.FailedPrecondition, "request_id")
	// Another user's request_ids are separate.
	if resp, err := bn.client.CreateTask(bn.asB(t), other); err != nil || resp.GetId() == answers[0].GetId() {
		t.Errorf("B with A's request_id: %v, %v", resp, err)
	}
}

func TestUpdateTask_MaskEtagAndCompletion(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	due := timestamppb.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	orig := bn.create(t, bn.asA(t), &taskv1.Task{Title: "t", Description: "d", DueDate: due, Priority: taskv1.TaskPriority_TASK_PRIORITY_LOW})
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }
	update := func(t *testing.T, tk *taskv1.Task, m *fieldmaskpb.FieldMask) *taskv1.Task {
		t.Helper()
		resp, err := cl.UpdateTask(bn.asA(t), &taskv1.UpdateTaskRequest{Task: tk, UpdateMask: m})
		if err != nil {
			t.Fatalf("UpdateTask(%v, %v): %v", tk, m, err)
		}
		return resp
	}

	// Only the masked field changes, even when others are sent.
	got := update(t, &taskv1.Task{Id: orig.GetId(), Title: "new", Description: "ignored", Priority: taskv1.TaskPriority_TASK_PRIORITY_URGENT}, mask("title"))
	want := proto.Clone(orig).(*taskv1.Task)
	want.Title, want.UpdatedAt, want.Etag = "new", got.GetUpdatedAt(), got.GetEtag()
	if !proto.Equal(got, want) {
		t.Errorf("masked update:\ngot  %v\nwant %v", got, want)
	}
	if got.GetEtag() == orig.GetEtag() {
		t.Error("etag unchanged by a write")
	}

	// Without a mask: the fields that are set.
	got = update(t, &taskv1.Task{Id: orig.GetId(), Status: taskv1.TaskStatus_TASK_STATUS_COMPLETED}, nil)
	if got.GetStatus() != taskv1.TaskStatus_TASK_STATUS_COMPLETED || got.GetCompletedAt() == nil || got.GetTitle() != "new" || got.GetDescription() != "d" || got.GetPriority() != taskv1.TaskPriority_TASK_PRIORITY_LOW {
		t.Errorf("maskless update to completed: %v", got)
	}
	// Leaving completed clears completed_at; clearing due_date and description through the mask.
	got = update(t, &taskv1.Task{Id: orig.GetId(), Status: taskv1.TaskStatus_TASK_STATUS_PENDING}, mask("status", "due_date", "description"))
	if got.GetCompletedAt() != nil || got.GetDueDate() != nil || got.GetDescription() != "" {
		t.Errorf("after reopening: %v", got)
	}

	// A stale etag is ABORTED and changes nothing.
	stale := orig.GetEtag()
	_, err := cl.UpdateTask(bn.asA(t), &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: orig.GetId(), Title: "stale", Etag: stale}, UpdateMask: mask("title")})
	wantStatus(t, err, codes.Aborted)
	_, err = cl.UpdateTask(bn.asA(t), &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: orig.GetId(), Title: "junk", Etag: "junk"}, UpdateMask: mask("title")})
	wantStatus(t, err, codes.Aborted)
	resp, err := cl.GetTask(bn.asA(t), &taskv1.GetTaskRequest{Id: orig.GetId()})
	if err != nil || !proto.Equal(resp, got) {
		t.Errorf("after refused updates: %v, %v; want %v", resp, err, got)
	}
	// The current etag works.
	update(t, &taskv1.Task{Id: orig.GetId(), Title: "fresh", Etag: got.GetEtag()}, mask("title"))

	// The etag and output-only fields in a mask are ignored; "*" is every
	// field an update may change.
	got = update(t, &taskv1.Task{Id: orig.GetId(), Title: "ignored paths", CreatedBy: 999, AssignedTo: new(int64(999))},
		mask("title", "etag", "id", "created_by", "assigned_to", "created_at", "updated_at", "completed_at"))
	if got.GetTitle() != "ignored paths" || got.GetCreatedBy() != orig.GetCreatedBy() || got.AssignedTo != nil {
		t.Errorf("mask with output-only paths: %v", got)
	}
	got = update(t, &taskv1.Task{Id: orig.GetId(), Title: "star", Status: taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS, Priority: taskv1.TaskPriority_TASK_PRIORITY_HIGH}, mask("*"))
	if got.GetTitle() != "star" || got.GetDescription() != "" || got.GetDueDate() != nil || got.GetPriority() != taskv1.TaskPriority_TASK_PRIORITY_HIGH || got.GetStatus() != taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS {
		t.Errorf(`mask "*": %v`, got)
	}

	for _, tc := range []struct {
		name  string
		req   *taskv1.UpdateTaskRequest
		field string
	}{
		{"unknown path", &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: orig.GetId(), Title: "x"}, UpdateMask: mask("title", "owner")}, "update_mask"},
		{"sub-path", &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: orig.GetId(), Title: "x"}, UpdateMask: mask("due_date.seconds")}, "update_mask"},
		{"only ignored paths", &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: orig.GetId(), Title: "x"}, UpdateMask: mask("etag", "created_by")}, "update_mask"},
		{"masked empty title", &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: orig.GetId()}, UpdateMask: mask("title")}, "task.title"},
		{"masked unspecified status", &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: orig.GetId()}, UpdateMask: mask("status")}, "task.status"},
		{"nothing to update", &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: orig.GetId()}}, "update_mask"},
		{"no id", &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Title: "x"}, UpdateMask: mask("title")}, "task.id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cl.UpdateTask(bn.asA(t), tc.req)
			wantStatus(t, err, codes.InvalidArgument, tc.field)
		})
	}
}

func TestUpdateTask_ConcurrentSameEtagOneWins(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	orig := bn.create(t, bn.asA(t), &taskv1.Task{Title: "t"})
	const writers = 2
	ctxs := []context.Context{bn.asA(t), bn.asA(t)}
	errs := make([]error, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			<-start
			_, errs[i] = bn.client.UpdateTask(ctxs[i], &taskv1.UpdateTaskRequest{
				Task:       &taskv1.Task{Id: orig.GetId(), Title: fmt.Sprintf("writer %d", i), Etag: orig.GetEtag()},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
			})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatal("both writers won")
			}
			winner = i
			continue
		}
		wantStatus(t, err, codes.Aborted)
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	resp, err := bn.client.GetTask(bn.asA(t), &taskv1.GetTaskRequest{Id: orig.GetId()})
	if err != nil || resp.GetTitle() != fmt.Sprintf("writer %d", winner) {
		t.Errorf("row after the race: %v, %v; want writer %d's title", resp, err, winner)
	}
}

func TestDeleteTask_Etag(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "t"})
	if _, err := bn.client.UpdateTask(bn.asA(t), &taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: tk.GetId(), Title: "t2"}}); err != nil {
		t.Fatal(err)
	}
	_, err := bn.client.DeleteTask(bn.asA(t), &taskv1.DeleteTaskRequest{Id: tk.GetId(), Etag: tk.GetEtag()})
	wantStatus(t, err, codes.Aborted)
	cur, err := bn.client.GetTask(bn.asA(t), &taskv1.GetTaskRequest{Id: tk.GetId()})
	if err != nil {
		t.Fatalf("task gone after a refused delete: %v", err)
	}
	if _, err := bn.client.DeleteTask(bn.asA(t), &taskv1.DeleteTaskRequest{Id: tk.GetId(), Etag: cur.GetEtag()}); err != nil {
		t.Errorf("delete with the current etag: %v", err)
	}
	_, err = bn.client.DeleteTask(bn.asA(t), &taskv1.DeleteTaskRequest{Id: tk.GetId()})
	wantStatus(t, err, codes.NotFound)
}

func TestAssignTask_ChecksAssigneeWithDirectory(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	cl := bn.client
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "t"})

	resp, err := cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.b})
	if err != nil || resp.GetAssignedTo() != bn.b || resp.GetEtag() == tk.GetEtag() {
		t.Fatalf("assign to B: %v, %v", resp, err)
	}
	assigned := resp
	for name, id := range map[string]int64{"inactive": bn.inactive, "unknown": bn.inactive + 1000} {
		t.Run(name, func(t *testing.T) {
			_, err := cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: id})
			wantStatus(t, err, codes.FailedPrecondition, "assignee_id")
		})
	}
	_, err = cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.c, Etag: tk.GetEtag()})
	wantStatus(t, err, codes.Aborted)
	if got, err := cl.GetTask(bn.asA(t), &taskv1.GetTaskRequest{Id: tk.GetId()}); err != nil || !proto.Equal(got, assigned) {
		t.Errorf("task after refused assignments: %v, %v; want %v", got, err, assigned)
	}

	// With the directory unavailable: Unavailable, nothing changes; taking
	// the assignment back needs no directory.
	bn.users.setUnavailable(true)
	_, err = cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.c})
	wantStatus(t, err, codes.Unavailable)
	if got, err := cl.GetTask(bn.asA(t), &taskv1.GetTaskRequest{Id: tk.GetId()}); err != nil || !proto.Equal(got, assigned) {
		t.Errorf("task after Unavailable: %v, %v; want %v", got, err, assigned)
	}
	checks := len(bn.users.seen())
	resp, err = cl.AssignTask(bn.asA(t), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: 0})
	if err != nil || resp.GetAssignedTo() != 0 {
		t.Errorf("unassign with the directory unavailable: %v, %v", resp, err)
	}
	if got := len(bn.users.seen()); got != checks {
		t.Errorf("unassigning asked the directory %d times, want 0", got-checks)
	}
}

// TestAssignTask_ChecksRunForTheCaller watches the directory's check: it
// runs with the caller's bearer token (which the user service client
// forwards) and within the caller's deadline.
func TestAssignTask_ChecksRunForTheCaller(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "t"})

	token := bn.token(t, auth.Principal{UserID: bn.a})
	deadline := time.Now().Add(3 * time.Second)
	ctx, cancel := context.WithDeadline(testkit.Context(t), deadline)
	defer cancel()
	if _, err := bn.client.AssignTask(grpcauth.WithBearer(ctx, token), &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.b}); err != nil {
		t.Fatal(err)
	}
	checks := bn.users.seen()
	if len(checks) != 1 {
		t.Fatalf("directory checks = %+v, want 1", checks)
	}
	c := checks[0]
	if c.id != bn.b {
		t.Errorf("checked user %d, want the assignee %d", c.id, bn.b)
	}
	if c.token != token {
		t.Errorf("check ran with bearer token %q, want the caller's", c.token)
	}
	// The deadline travels as a timeout, so the server's copy may be later
	// than the caller's by the transit time.
	if c.deadline.IsZero() || c.deadline.After(deadline.Add(time.Second)) {
		t.Errorf("check deadline %v, caller's %v", c.deadline, deadline)
	}
}

// TestAssignTask_HangingDirectoryEndsWithTheCaller: a directory that does
// not answer is given up on when the caller's deadline passes; the task is
// unchanged.
func TestAssignTask_HangingDirectoryEndsWithTheCaller(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: "t"})

	bn.users.setHang(true)
	ctx, cancel := context.WithTimeout(bn.asA(t), 500*time.Millisecond)
	defer cancel()
	_, err := bn.client.AssignTask(ctx, &taskv1.AssignTaskRequest{Id: tk.GetId(), AssigneeId: bn.b})
	wantStatus(t, err, codes.DeadlineExceeded)

	// The check returns because its context ended, not because the test did.
	select {
	case <-bn.users.returned:
	case <-testkit.Context(t).Done():
		t.Fatal("the hanging check did not return after the caller's deadline")
	}
	checks := bn.users.seen()
	if err := checks[0].err; !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		t.Errorf("hanging check returned %v, want the end of its context", err)
	}
	got, err := bn.client.GetTask(bn.asA(t), &taskv1.GetTaskRequest{Id: tk.GetId()})
	if err != nil || !proto.Equal(got, tk) {
		t.Errorf("task after the timed-out assignment: %v, %v; want %v", got, err, tk)
	}
}

func TestListTasks_InvalidTokenAndOrder(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	for i := range 5 {
		bn.create(t, bn.asA(t), &taskv1.Task{Title: fmt.Sprintf("t%d", i), Status: taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS})
	}
	first, err := bn.client.ListTasks(bn.asA(t), &taskv1.ListTasksRequest{PageSize: 2, Status: []taskv1.TaskStatus{taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS}})
	if err != nil || first.GetNextPageToken() == "" || len(first.GetTasks()) != 2 {
		t.Fatalf("first page: %v, %v", first, err)
	}
	tok := first.GetNextPageToken()
	second, err := bn.client.ListTasks(bn.asA(t), &taskv1.ListTasksRequest{PageSize: 2, PageToken: tok, Status: []taskv1.TaskStatus{taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS}})
	if err != nil || len(second.GetTasks()) != 2 || second.GetTasks()[0].GetId() == first.GetTasks()[0].GetId() {
		t.Fatalf("second page: %v, %v", second, err)
	}
	tampered := []byte(tok)
	tampered[len(tampered)/2] ^= 1
	for _, tc := range []struct {
		name  string
		req   *taskv1.ListTasksRequest
		field string
	}{
		{"token with another filter", &taskv1.ListTasksRequest{PageToken: tok, Status: []taskv1.TaskStatus{taskv1.TaskStatus_TASK_STATUS_PENDING}}, "page_token"},
		{"token without the filter", &taskv1.ListTasksRequest{PageToken: tok}, "page_token"},
		{"token with another order", &taskv1.ListTasksRequest{PageToken: tok, OrderBy: "due_date", Status: []taskv1.TaskStatus{taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS}}, "page_token"},
		{"tampered token", &taskv1.ListTasksRequest{PageToken: string(tampered), Status: []taskv1.TaskStatus{taskv1.TaskStatus_TASK_STATUS_IN_PROGRESS}}, "page_token"},
		{"garbage token", &taskv1.ListTasksRequest{PageToken: "!!!"}, "page_token"},
		{"unknown order_by", &taskv1.ListTasksRequest{OrderBy: "title"}, "order_by"},
		{"bad direction", &taskv1.ListTasksRequest{OrderBy: "priority sideways"}, "order_by"},
		{"page_size over 1000", &taskv1.ListTasksRequest{PageSize: 1001}, "page_size"},
		{"unspecified status", &taskv1.ListTasksRequest{Status: []taskv1.TaskStatus{0}}, "status"},
		{"unspecified priority", &taskv1.ListTasksRequest{Priority: []taskv1.TaskPriority{0}}, "priority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bn.client.ListTasks(bn.asA(t), tc.req)
			wantStatus(t, err, codes.InvalidArgument, tc.field)
			if strings.HasPrefix(tc.name, "unspecified") && !strings.Contains(status.Convert(err).Message(), "_UNSPECIFIED is not a "+tc.field+" to filter by") {
				t.Errorf("message %q does not say the value is not a %s to filter by", status.Convert(err).Message(), tc.field)
			}
		})
	}
}

func TestGetTaskStats(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	past := timestamppb.New(time.Now().Add(-48 * time.Hour))
	for _, tk := range []*taskv1.Task{
		{Title: "1", Priority: taskv1.TaskPriority_TASK_PRIORITY_URGENT, DueDate: past},
		{Title: "2", Priority: taskv1.TaskPriority_TASK_PRIORITY_URGENT},
		{Title: "3", Status: taskv1.TaskStatus_TASK_STATUS_COMPLETED, DueDate: past},
	} {
		bn.create(t, bn.asA(t), tk)
	}
	got, err := bn.client.GetTaskStats(bn.asA(t), &taskv1.GetTaskStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := &taskv1.GetTaskStatsResponse{
		Counts: []*taskv1.TaskCount{
			{Status: taskv1.TaskStatus_TASK_STATUS_PENDING, Priority: taskv1.TaskPriority_TASK_PRIORITY_URGENT, Count: 2},
			{Status: taskv1.TaskStatus_TASK_STATUS_COMPLETED, Priority: taskv1.TaskPriority_TASK_PRIORITY_MEDIUM, Count: 1},
		},
		Total: 3, Overdue: 1,
	}
	if !proto.Equal(got, want) {
		t.Errorf("stats:\ngot  %v\nwant %v", got, want)
	}
}

package taskapi_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
)

// hundred returns 100 create requests, each with its own request id.
func hundred(prefix string) []*taskv1.CreateTaskRequest {
	reqs := make([]*taskv1.CreateTaskRequest, 100)
	for i := range reqs {
		reqs[i] = &taskv1.CreateTaskRequest{
			Task:      &taskv1.Task{Title: fmt.Sprintf("%s %d", prefix, i)},
			RequestId: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		}
	}
	return reqs
}

func TestBatchCreateTasks_InvalidItem57WritesNothingAndIsNamed(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	for _, tc := range []struct {
		name  string
		item  *taskv1.CreateTaskRequest
		code  codes.Code
		field string
	}{
		// Refused by the proto's rules, then by the domain's, then by the
		// conversion: each names the item.
		{"blank title", &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "   "}}, codes.InvalidArgument, "requests[57].task.title"},
		{"no title", &taskv1.CreateTaskRequest{Task: &taskv1.Task{Description: "only"}}, codes.InvalidArgument, "requests[57].task.title"},
		{"unknown status", &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "x", Status: 7}}, codes.InvalidArgument, "requests[57].task.status"},
		{"request id of item 3", &taskv1.CreateTaskRequest{Task: &taskv1.Task{Title: "x"}, RequestId: "00000000-0000-4000-8000-000000000003"}, codes.InvalidArgument, "requests[57].request_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reqs := hundred("import")
			reqs[57] = tc.item
			_, err := bn.client.BatchCreateTasks(bn.asA(t), &taskv1.BatchCreateTasksRequest{Requests: reqs})
			wantStatus(t, err, tc.code, tc.field)
		})
	}
	list, err := bn.client.ListTasks(bn.asA(t), &taskv1.ListTasksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.GetTasks()); n != 0 {
		t.Errorf("%d tasks written, want none", n)
	}
	_, err = bn.client.BatchCreateTasks(bn.asA(t), &taskv1.BatchCreateTasksRequest{Requests: append(hundred("a"), hundred("b")[0])})
	wantStatus(t, err, codes.InvalidArgument, "requests")
}

func TestBatchCreateTasks_RetryWithTheSameRequestIDsReturnsTheSameTasks(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	reqs := hundred("import")
	first, err := bn.client.BatchCreateTasks(bn.asA(t), &taskv1.BatchCreateTasksRequest{Requests: reqs})
	if err != nil {
		t.Fatal(err)
	}
	again, err := bn.client.BatchCreateTasks(bn.asA(t), &taskv1.BatchCreateTasksRequest{Requests: reqs})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.GetTasks()) != 100 || len(again.GetTasks()) != 100 {
		t.Fatalf("got %d and %d tasks, want 100 each", len(first.GetTasks()), len(again.GetTasks()))
	}
	for i, tk := range first.GetTasks() {
		if tk.GetTitle() != reqs[i].GetTask().GetTitle() || tk.GetId() != again.GetTasks()[i].GetId() {
			t.Errorf("item %d: first %v, retry %v", i, tk, again.GetTasks()[i])
		}
	}
	list, err := bn.client.ListTasks(bn.asA(t), &taskv1.ListTasksRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.GetTasks()); n != 100 {
		t.Errorf("%d tasks after the retry, want 100", n)
	}
	// The same request id with another task is refused, naming the item.
	reqs[9].Task.Title = "something else"
	_, err = bn.client.BatchCreateTasks(bn.asA(t), &taskv1.BatchCreateTasksRequest{Requests: reqs})
	wantStatus(t, err, codes.FailedPrecondition, "requests[9].request_id")
}

func TestBatchUpdateTasks_StaleEtagChangesNothingAndSaysWhichItem(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	var reqs []*taskv1.UpdateTaskRequest
	for i := range 4 {
		tk := bn.create(t, bn.asA(t), &taskv1.Task{Title: fmt.Sprintf("task %d", i)})
		reqs = append(reqs, &taskv1.UpdateTaskRequest{
			Task:       &taskv1.Task{Id: tk.GetId(), Title: fmt.Sprintf("renamed %d", i), Etag: tk.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
		})
	}
	reqs[2].Task.Etag = "v7"
	_, err := bn.client.BatchUpdateTasks(bn.asA(t), &taskv1.BatchUpdateTasksRequest{Requests: reqs})
	st := wantStatus(t, err, codes.Aborted)
	if !strings.HasPrefix(st.Message(), "requests[2]: ") {
		t.Errorf("message %q does not name requests[2]", st.Message())
	}
	list, err := bn.client.ListTasks(bn.asA(t), &taskv1.ListTasksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range list.GetTasks() {
		if strings.HasPrefix(tk.GetTitle(), "renamed") || tk.GetEtag() != "v1" {
			t.Errorf("changed by the refused batch: %v", tk)
		}
	}
	_, err = bn.client.BatchUpdateTasks(bn.asA(t), &taskv1.BatchUpdateTasksRequest{Requests: []*taskv1.UpdateTaskRequest{
		reqs[0], {Task: &taskv1.Task{Id: reqs[1].GetTask().GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"owner"}}},
	}})
	wantStatus(t, err, codes.InvalidArgument, "requests[1].update_mask")

	reqs[2].Task.Etag = ""
	resp, err := bn.client.BatchUpdateTasks(bn.asA(t), &taskv1.BatchUpdateTasksRequest{Requests: reqs})
	if err != nil {
		t.Fatal(err)
	}
	for i, tk := range resp.GetTasks() {
		if tk.GetTitle() != fmt.Sprintf("renamed %d", i) || tk.GetEtag() != "v2" {
			t.Errorf("item %d: %v", i, tk)
		}
	}
}

func TestBatchDeleteTasks_AllOrNothing(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	var ids []int64
	for i := range 3 {
		ids = append(ids, bn.create(t, bn.asA(t), &taskv1.Task{Title: fmt.Sprintf("task %d", i)}).GetId())
	}
	others := bn.create(t, bn.asC(t), &taskv1.Task{Title: "c's"}).GetId()
	reqs := func(ids ...int64) []*taskv1.DeleteTaskRequest {
		out := make([]*taskv1.DeleteTaskRequest, len(ids))
		for i, id := range ids {
			out[i] = &taskv1.DeleteTaskRequest{Id: id}
		}
		return out
	}
	_, err := bn.client.BatchDeleteTasks(bn.asA(t), &taskv1.BatchDeleteTasksRequest{Requests: reqs(ids[0], others, ids[1])})
	if st := wantStatus(t, err, codes.NotFound); !strings.HasPrefix(st.Message(), "requests[1]: ") {
		t.Errorf("message %q does not name requests[1]", st.Message())
	}
	_, err = bn.client.BatchDeleteTasks(bn.asA(t), &taskv1.BatchDeleteTasksRequest{Requests: reqs(ids[0], ids[0])})
	wantStatus(t, err, codes.InvalidArgument, "requests[1]")
	if _, err := bn.client.BatchDeleteTasks(bn.asA(t), &taskv1.BatchDeleteTasksRequest{Requests: reqs(ids...)}); err != nil {
		t.Fatal(err)
	}
	list, err := bn.client.ListTasks(bn.asA(t), &taskv1.ListTasksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.GetTasks()); n != 0 {
		t.Errorf("%d tasks left, want none", n)
	}
	if _, err := bn.client.GetTask(bn.asC(t), &taskv1.GetTaskRequest{Id: others}); err != nil {
		t.Errorf("c's task: %v", err)
	}
}

func TestListTasks_SearchQ(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	want := bn.create(t, bn.asA(t), &taskv1.Task{Title: "plan sprint", Description: "and the retro"})
	bn.create(t, bn.asA(t), &taskv1.Task{Title: "plan", Description: "nothing else"})
	bn.create(t, bn.asB(t), &taskv1.Task{Title: "plan sprint of b"})
	for _, order := range []string{"", "relevance"} {
		list, err := bn.client.ListTasks(bn.asA(t), &taskv1.ListTasksRequest{Q: new("plan sp"), OrderBy: order})
		if err != nil {
			t.Fatal(err)
		}
		if got := list.GetTasks(); len(got) != 1 || got[0].GetId() != want.GetId() {
			t.Errorf("order %q: got %v, want only %q", order, got, want.GetTitle())
		}
	}
	for _, tc := range []struct {
		name  string
		req   *taskv1.ListTasksRequest
		field string
	}{
		{"empty q", &taskv1.ListTasksRequest{Q: new("")}, "q"},
		{"blank q", &taskv1.ListTasksRequest{Q: new("  ")}, "q"},
		{"only excluded words", &taskv1.ListTasksRequest{Q: new("-plan")}, "q"},
		{"q too long", &taskv1.ListTasksRequest{Q: new(strings.Repeat("x", 1001))}, "q"},
		{"relevance without q", &taskv1.ListTasksRequest{OrderBy: "relevance"}, "order_by"},
		{"relevance ascending", &taskv1.ListTasksRequest{Q: new("plan"), OrderBy: "relevance asc"}, "order_by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bn.client.ListTasks(bn.asA(t), tc.req)
			wantStatus(t, err, codes.InvalidArgument, tc.field)
		})
	}
}

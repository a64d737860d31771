package taskapi_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	"github.com/todo-platform/todo/pkg/auth"
	"github.com/todo-platform/todo/pkg/auth/grpcauth"
	"github.com/todo-platform/todo/pkg/grpcserver/grpcservertest"
	"github.com/todo-platform/todo/pkg/testkit"
)

// hostileText are seeds every text fuzz target starts from: NUL, invalid
// UTF-8, encoded surrogates, huge strings, separators.
var hostileText = []string{
	"", "\x00", "a\x00b", "\xff", "\xc0\xaf", "\xed\xa0\x80", "\xed\xbf\xbf", "\U0010FFFF", "\uFFFD",
	strings.Repeat("x", 1025), strings.Repeat("é", 6000), " ", ",", "..", "title,title", "*",
}

// textField returns the string field at path of requests of m's type.
func textField(f *testing.F, m proto.Message, path string) grpcservertest.TextField {
	f.Helper()
	tf, err := grpcservertest.TextFieldAt(m.ProtoReflect().Descriptor(), path)
	if err != nil {
		f.Fatal(err)
	}
	return tf
}

// wantCodeIn fails unless err's code is one of allowed.
func wantCodeIn(t *testing.T, err error, allowed ...codes.Code) {
	t.Helper()
	if c := status.Code(err); !slices.Contains(allowed, c) {
		t.Fatalf("code %v (%v), want one of %v", c, err, allowed)
	}
}

// seedTask inserts a task created by creator and assigned to assignee (nil:
// nobody) and returns its id.
func seedTask(f *testing.F, bn *bundle, creator int64, assignee *int64) int64 {
	f.Helper()
	var id int64
	err := bn.db.Owner.QueryRow(testkit.Context(f),
		`INSERT INTO task (title, created_by, assigned_to) VALUES ('seeded', $1, $2) RETURNING id`, creator, assignee).Scan(&id)
	if err != nil {
		f.Fatal(err)
	}
	return id
}

// FuzzListTasks_PageToken: whatever the page token, ListTasks answers OK or
// InvalidArgument.
func FuzzListTasks_PageToken(f *testing.F) {
	bn := setup(f)
	for range 3 {
		seedTask(f, bn, bn.a, nil)
	}
	ctx := grpcauth.WithBearer(testkit.Context(f), bn.token(f, auth.Principal{UserID: bn.a}))
	first, err := bn.client.ListTasks(ctx, &taskv1.ListTasksRequest{PageSize: 1, OrderBy: "due_date desc"})
	if err != nil {
		f.Fatal(err)
	}
	tok := first.GetNextPageToken()
	for _, s := range append([]string{tok, tok[:len(tok)-1], tok + "A", strings.ToUpper(tok), tok + "\x00"}, hostileText...) {
		f.Add(s, false)
		f.Add(s, true)
	}
	field := textField(f, &taskv1.ListTasksRequest{}, "page_token")
	f.Fuzz(func(t *testing.T, token string, ordered bool) {
		req := &taskv1.ListTasksRequest{PageSize: 1}
		if ordered {
			req.OrderBy = "due_date desc"
		}
		base, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		err = grpcservertest.InvokeRaw(bn.asA(t), bn.conn, taskv1.TaskService_ListTasks_FullMethodName, field.Append(base, token), &taskv1.ListTasksResponse{})
		wantCodeIn(t, err, codes.OK, codes.InvalidArgument)
	})
}

// FuzzUpdateTask_Mask: whatever the update_mask paths (and title and etag
// sent with them), UpdateTask by the creator or the assignee answers one of
// the codes of a refused or accepted update, never Internal or Unknown.
func FuzzUpdateTask_Mask(f *testing.F) {
	bn := setup(f)
	id := seedTask(f, bn, bn.a, &bn.b)
	for _, s := range append([]string{"title", "title,description", "status", "priority,due_date", "assignee_id", "etag", "id",
		"created_at", "task.title", "Title", "title,title", "title.x", "description,\x00"}, hostileText...) {
		f.Add(s, "new title", "", false)
		f.Add(s, "seeded", `W/"1"`, true)
	}
	paths := textField(f, &taskv1.UpdateTaskRequest{}, "update_mask.paths[0]")
	title := textField(f, &taskv1.UpdateTaskRequest{}, "task.title")
	etag := textField(f, &taskv1.UpdateTaskRequest{}, "task.etag")
	f.Fuzz(func(t *testing.T, mask, newTitle, tag string, asAssignee bool) {
		b, err := proto.Marshal(&taskv1.UpdateTaskRequest{Task: &taskv1.Task{Id: id}})
		if err != nil {
			t.Fatal(err)
		}
		for p := range strings.SplitSeq(mask, ",") {
			b = paths.Append(b, p)
		}
		b = title.Append(b, newTitle)
		if tag != "" {
			b = etag.Append(b, tag)
		}
		ctx := bn.asA(t)
		if asAssignee {
			ctx = bn.asB(t)
		}
		err = grpcservertest.InvokeRaw(ctx, bn.conn, taskv1.TaskService_UpdateTask_FullMethodName, b, &taskv1.Task{})
		wantCodeIn(t, err, codes.OK, codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.FailedPrecondition, codes.Aborted)
	})
}

package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/todo-platform/todo/pkg/grpcerr"

	taskv1 "github.com/todo-platform/todo/api/gen/todo/task/v1"
	userv1 "github.com/todo-platform/todo/api/gen/todo/user/v1"
)

var services = []string{userv1.UserService_ServiceDesc.ServiceName, taskv1.TaskService_ServiceDesc.ServiceName}

// TestBindings_MatchTheMuxPatterns sends one request to every route the
// HTTP rules define through a mux with the generated handlers, and requires
// that checkInput's lookup key (method and runtime.Pattern.String) finds the
// binding of that very method: no route escapes the checks.
func TestBindings_MatchTheMuxPatterns(t *testing.T) {
	bs, err := newBindings(services...)
	if err != nil {
		t.Fatal(err)
	}
	methods := 0
	for _, name := range []*grpc.ServiceDesc{&userv1.UserService_ServiceDesc, &taskv1.TaskService_ServiceDesc} {
		methods += len(name.Methods)
	}
	// BatchGetUsers is gRPC only; every other method has a route.
	if len(bs) < methods-1 {
		t.Errorf("%d bindings for %d methods", len(bs), methods)
	}

	var got string
	mux := runtime.NewServeMux(runtime.WithMiddlewares(func(next runtime.HandlerFunc) runtime.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
			pat, _ := runtime.HTTPPattern(r.Context())
			got = r.Method + " " + pat.String()
		}
	}))
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := userv1.RegisterUserServiceHandler(context.Background(), mux, conn); err != nil {
		t.Fatal(err)
	}
	if err := taskv1.RegisterTaskServiceHandler(context.Background(), mux, conn); err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`\{[^}]*\}`)
	for key, b := range bs {
		method, pattern, _ := strings.Cut(key, " ")
		got = ""
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, vars.ReplaceAllString(pattern, "7"), nil))
		if got != key {
			t.Errorf("%s (%s): the mux reports %q", key, b.method.FullName(), got)
		}
	}

	for key, want := range map[string]struct {
		method, body string
		query        bool
	}{
		"POST /v1/tasks":                 {"CreateTask", "task", true},
		"GET /v1/tasks/{id=*}":           {"GetTask", "", false},
		"PATCH /v1/tasks/{task.id=*}":    {"UpdateTask", "task", true},
		"DELETE /v1/tasks/{id=*}":        {"DeleteTask", "", true},
		"POST /v1/tasks/{id=*}:assign":   {"AssignTask", "*", false},
		"GET /v1/tasks:stats":            {"GetTaskStats", "", false},
		"GET /v1/tasks/{id=*}/events":    {"ListTaskEvents", "", true},
		"GET /v1/taskAuditEvents":        {"ListTaskAuditEvents", "", true},
		"GET /v1/userAuditEvents":        {"ListUserAuditEvents", "", true},
		"GET /v1/users/me":               {"GetCurrentUser", "", false},
		"PATCH /v1/users/{user.id=*}":    {"UpdateUser", "user", true},
		"POST /v1/auth/login":            {"Login", "*", false},
		"GET /v1/users":                  {"ListUsers", "", true},
		"POST /v1/users/{id=*}:activate": {"ActivateUser", "*", false},
	} {
		b := bs[key]
		if b == nil {
			t.Errorf("no binding %s", key)
			continue
		}
		if string(b.method.Name()) != want.method || b.body != want.body || b.query != want.query {
			t.Errorf("%s = %s body %q query %v, want %+v", key, b.method.Name(), b.body, b.query, want)
		}
	}
}

// libraryText is parser text that no violation may carry (as written).
var libraryText = []string{
	"strconv", "parsing time", "2006-01-02T15:04:05", "proto:", "protojson", "unexpected EOF",
	"type mismatch", "invalid syntax", "invalid character", "cannot unmarshal", "json:",
	"syntax error", "(line ", "reflect", "%!", "Go value", "[]byte",
}

// wantClean fails for a violation without description, with invalid
// UTF-8, or with library text.
func wantClean(t *testing.T, vs []grpcerr.FieldViolation) {
	t.Helper()
	for _, v := range vs {
		if v.Description == "" {
			t.Errorf("violation of %q without a description", v.Field)
		}
		for _, s := range []string{v.Field, v.Description} {
			if !utf8.ValidString(s) {
				t.Errorf("violation text %q is not UTF-8", s)
			}
			for _, bad := range libraryText {
				if strings.Contains(s, bad) {
					t.Errorf("violation text %q contains %q", s, bad)
				}
			}
		}
	}
}

func fields(vs []grpcerr.FieldViolation) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Field
	}
	return out
}

func TestCheckBody(t *testing.T) {
	task := (&taskv1.Task{}).ProtoReflect().Descriptor()
	login := (&userv1.LoginRequest{}).ProtoReflect().Descriptor()
	tests := []struct {
		name, body string
		md         protoreflect.MessageDescriptor
		prefix     string
		fields     []string // nil: accepted
		desc       string   // in the first description
	}{
		{"empty", ``, task, "task", nil, ""},
		{"blank", " \n\t", task, "task", nil, ""},
		{"empty object", `{}`, task, "task", nil, ""},
		{"full", `{"title":"x","dueDate":"2030-01-01T00:00:00Z","priority":"TASK_PRIORITY_HIGH","status":1,"id":"7"}`, task, "task", nil, ""},
		{"nulls", `{"title":null,"due_date":null}`, task, "task", nil, ""},
		{"surrogate pair", `{"title":"\ud83d\ude00"}`, task, "task", nil, ""},
		{"escaped backslash before u", `{"title":"a\\ud800"}`, task, "task", nil, ""},
		{"unterminated", `{"title": "x"`, task, "task", []string{"task"}, "ends before"},
		{"unterminated value", `{"title": "x", "description": `, task, "task", []string{"task.description"}, "ends before"},
		{"unterminated string", `{"title": "x`, task, "task", []string{"task.title"}, "ends before"},
		{"bad literal", `{"title": "x", "description": tru}`, task, "task", []string{"task.description"}, "not valid JSON"},
		{"trailing comma", `{"title": "x",}`, task, "task", []string{"task"}, "not valid JSON"},
		{"bad in array", `{"title": [1, x]}`, task, "task", []string{"task.title[1]"}, "not valid JSON"},
		{"two values", `{} {}`, task, "task", []string{"task"}, "single JSON value"},
		{"garbage after", `{}x`, task, "task", []string{"task"}, "single JSON value"},
		{"array", `[]`, task, "task", []string{"task"}, "JSON object"},
		{"string body", `"x"`, login, "", []string{""}, "JSON object"},
		{"wrong types", `{"title":1,"status":true,"due_date":5,"id":"x"}`, task, "task", []string{"task.title", "task.status", "task.due_date", "task.id"}, "JSON string"},
		{"fraction", `{"id":1.5}`, task, "task", []string{"task.id"}, "integer"},
		{"bad enum", `{"priority":"HIGH"}`, task, "task", []string{"task.priority"}, "TASK_PRIORITY_HIGH"},
		{"bad time", `{"due_date":"2030-02-01"}`, task, "task", []string{"task.due_date"}, timestampExample},
		{"time out of range", `{"due_date":"10000-01-01T00:00:00Z"}`, task, "task", []string{"task.due_date"}, timestampExample},
		{"duplicate", `{"title":"a","title":"b"}`, task, "task", []string{"task.title"}, "more than once"},
		{"duplicate by names", `{"due_date":null,"dueDate":null}`, task, "task", []string{"task.due_date"}, `"due_date" and "dueDate"`},
		{"unknown", `{"owner":"me"}`, task, "task", []string{"task.owner"}, "unknown field"},
		{"unknown whole request", `{"who":"me"}`, login, "", []string{"who"}, "login, password"},
		{"invalid UTF-8", "{\"title\":\"\xff\"}", task, "task", []string{"task.title"}, "UTF-8"},
		{"invalid UTF-8 key", "{\"ti\xfftle\":\"x\"}", task, "task", []string{"task.ti\uFFFDtle"}, "UTF-8"},
		{"lone high surrogate", `{"title":"\ud800"}`, task, "task", []string{"task.title"}, `\ud800`},
		{"lone high then other escape", `{"title":"\ud800\n"}`, task, "task", []string{"task.title"}, "surrogate"},
		{"lone low surrogate", `{"title":"\uDC00"}`, task, "task", []string{"task.title"}, `\udc00`},
		{"surrogate in a key", `{"\ud800":1}`, task, "task", nil, ""}, // fields checked below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := checkBody([]byte(tt.body), tt.md, tt.prefix)
			wantClean(t, vs)
			if tt.name == "surrogate in a key" {
				if len(vs) != 1 || !strings.Contains(vs[0].Description, "surrogate") {
					t.Errorf("got %v, want one violation about the surrogate", vs)
				}
				return
			}
			if got := fields(vs); !slices.Equal(got, tt.fields) && !(len(got) == 0 && tt.fields == nil) {
				t.Fatalf("fields %q, want %q (%v)", got, tt.fields, vs)
			}
			if tt.desc != "" && !strings.Contains(vs[0].Description, tt.desc) {
				t.Errorf("description %q does not say %q", vs[0].Description, tt.desc)
			}
		})
	}
}

func TestCheckQueryAndPath(t *testing.T) {
	list := (&taskv1.ListTasksRequest{}).ProtoReflect().Descriptor()
	update := (&taskv1.UpdateTaskRequest{}).ProtoReflect().Descriptor()
	updateFilter := utilities.NewDoubleArray([][]string{{"task"}, {"task", "id"}})
	tests := []struct {
		name   string
		md     protoreflect.MessageDescriptor
		query  string
		filter *utilities.DoubleArray
		fields []string
		desc   string
	}{
		{"none", list, "", nil, nil, ""},
		{"good", list, "page_size=10&status=TASK_STATUS_PENDING&status=2&due_before=2030-01-01T00:00:00Z&order_by=priority%20desc&pageToken=x", nil, nil, ""},
		{"unknown refused, no cache-buster", list, "nope=1&_=123", nil, []string{"_", "nope"}, "is not a query parameter of this method; the parameters are page_size, page_token, order_by, status"},
		{"misspelt filter", list, "statuss=TASK_STATUS_COMPLETED", nil, []string{"statuss"}, "not a query parameter"},
		{"bad int", list, "page_size=abc", nil, []string{"page_size"}, "integer"},
		{"json name", list, "pageSize=abc", nil, []string{"page_size"}, "integer"},
		{"bad enum", list, "priority=HIGH", nil, []string{"priority"}, "TASK_PRIORITY_HIGH"},
		{"unknown enum number", list, "priority=42", nil, []string{"priority"}, "TASK_PRIORITY_HIGH"},
		{"date only", list, "due_after=2030-02-01", nil, []string{"due_after"}, timestampExample},
		{"twice", list, "page_size=1&page_size=2", nil, []string{"page_size"}, "once"},
		{"two names", list, "page_size=1&pageSize=2", nil, []string{"page_size"}, "once"},
		{"not UTF-8", list, "order_by=%C3", nil, []string{"order_by"}, "UTF-8"},
		{"bad escape", list, "order_by=%G1", nil, []string{"order_by"}, "percent"},
		{"bad escape in name", list, "order%G1=1", nil, []string{""}, "percent"},
		{"semicolon", list, "page_size=1;page_token=x", nil, []string{"page_size"}, "';'"},
		{"not a message", list, "page_size.x=1", nil, []string{"page_size.x"}, "not a query parameter"},
		{"several", list, "page_size=x&assigned_to=y", nil, []string{"assigned_to", "page_size"}, "integer"},
		{"mask", update, "update_mask=title,description", updateFilter, nil, ""},
		{"mask not UTF-8", update, "update_mask=%FF", updateFilter, []string{"update_mask"}, "UTF-8"},
		{"bound to the body: skipped", update, "task.title=%FF&task.id=x", updateFilter, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := checkQuery(tt.md, tt.query, tt.filter)
			wantClean(t, vs)
			if got := fields(vs); !slices.Equal(got, tt.fields) && !(len(got) == 0 && tt.fields == nil) {
				t.Fatalf("fields %q, want %q (%v)", got, tt.fields, vs)
			}
			if tt.desc != "" && !strings.Contains(vs[0].Description, tt.desc) {
				t.Errorf("description %q does not say %q", vs[0].Description, tt.desc)
			}
		})
	}

	get := (&taskv1.GetTaskRequest{}).ProtoReflect().Descriptor()
	for _, tt := range []struct {
		md     protoreflect.MessageDescriptor
		params map[string]string
		fields []string
	}{
		{get, map[string]string{"id": "12"}, nil},
		{get, map[string]string{"id": "-3"}, nil}, // the service refuses it, naming id
		{get, map[string]string{"id": "abc"}, []string{"id"}},
		{get, map[string]string{"id": "\xff"}, []string{"id"}},
		{get, map[string]string{"id": "99999999999999999999"}, []string{"id"}},
		{update, map[string]string{"task.id": "1.0"}, []string{"task.id"}},
	} {
		vs := checkPath(tt.md, tt.params)
		wantClean(t, vs)
		if got := fields(vs); !slices.Equal(got, tt.fields) && !(len(got) == 0 && tt.fields == nil) {
			t.Errorf("%v: fields %q, want %q (%v)", tt.params, got, tt.fields, vs)
		}
	}
}

func TestCheckContentType(t *testing.T) {
	for _, ct := range []string{"", " ", "application/json", "application/json; charset=utf-8", "APPLICATION/JSON;charset=UTF-8", "application/json; charset=\"utf-8\""} {
		if st := checkContentType(ct); st != nil {
			t.Errorf("%q refused: %v", ct, st.Message())
		}
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "application/json-seq", "*/*", ";", "application/json; charset"} {
		if st := checkContentType(ct); st == nil {
			t.Errorf("%q accepted", ct)
		} else if !strings.Contains(st.Message(), "application/json") {
			t.Errorf("%q: message %q does not say what to send", ct, st.Message())
		}
	}
	if msg := checkContentType("application/x-www-form-urlencoded").Message(); !strings.Contains(msg, "curl") {
		t.Errorf("the form type's message gives curl users no hint: %q", msg)
	}
}

func TestTextProblem(t *testing.T) {
	for raw, want := range map[string]string{
		`"plain"`:              "",
		`"\u00e9\n\"\\"`:       "",
		`"\ud83d\ude00"`:       "",
		`"\\ud800"`:            "",
		`"\\\ud800"`:           "surrogate",
		`"\ud800"`:             "surrogate",
		`"\ud800\u0041"`:       "surrogate",
		`"\ude00\ud83d"`:       "surrogate",
		`"x\ud83d"`:            "surrogate",
		"\"\xc3\"":             "UTF-8",
		`"\u12"`:               "", // not an escape json.Valid accepts; nothing to say here
		`"\ud83d\ude00\ud800"`: "surrogate",
	} {
		got := textProblem([]byte(raw))
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("textProblem(%s) = %q, want %q", raw, got, want)
		}
	}
}

// FuzzCheckBody: checkBody accepts exactly what protojson reads (and then
// the message can be sent over gRPC), and explains every refusal with at
// least one clean violation under the body's path.
func FuzzCheckBody(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"title":"x"}`, `{"title": "x"`, `["x"]`, `null`, `{"title":42}`, `{"title":{"a":1}}`,
		`{"priority":"TASK_PRIORITY_EXTREME"}`, `{"priority":99}`, `{"priority":1e20}`, `{"due_date":"2030-02-01"}`,
		`{"title":"a","title":"b"}`, `{"due_date":null,"dueDate":null}`, "{\"title\":\"\xff\xfe\"}", `{"title":"\ud800"}`,
		`{"owner":"me"}`, `{"title":"x"} {"title":"y"}`, `{"id":"1e2"}`, `{"etag":"\u0000"}`, `{"title":[1,{"a":`,
	} {
		f.Add([]byte(s))
	}
	task := (&taskv1.Task{}).ProtoReflect().Descriptor()
	f.Fuzz(func(t *testing.T, body []byte) {
		vs := checkBody(body, task, "task")
		msg := &taskv1.Task{}
		err := unmarshalOptions.Unmarshal(body, msg)
		blank := len(strings.TrimSpace(string(body))) == 0
		switch {
		case len(vs) == 0 && err != nil && !blank:
			t.Fatalf("accepted a body protojson refuses (%v): %q", err, body)
		case len(vs) > 0 && err == nil:
			t.Fatalf("refused a body protojson reads: %q: %v", body, vs)
		case len(vs) == 0 && !blank:
			if _, err := proto.Marshal(msg); err != nil {
				t.Fatalf("accepted a body whose message cannot be sent (%v): %q", err, body)
			}
		}
		wantClean(t, vs)
		for _, v := range vs {
			if v.Field != "task" && !strings.HasPrefix(v.Field, "task.") {
				t.Errorf("violation field %q is not under task", v.Field)
			}
		}
	})
}

// FuzzCheckQuery: when checkQuery finds nothing, the handler's ParseForm
// and query parser succeed and the request can be sent over gRPC.
func FuzzCheckQuery(f *testing.F) {
	for _, s := range []string{
		"", "page_size=10", "page_size=abc", "status=DONE&status=1", "due_before=2030-02-01", "page_size=1&pageSize=2",
		"page_token=%FF", "page_size=%zz", "a;b", "page_size.x=1", "status[x]=1", "order_by=%00", "x=1&&y",
	} {
		f.Add(s)
	}
	list := (&taskv1.ListTasksRequest{}).ProtoReflect().Descriptor()
	f.Fuzz(func(t *testing.T, q string) {
		vs := checkQuery(list, q, nil)
		wantClean(t, vs)
		if len(vs) > 0 {
			return
		}
		values, err := url.ParseQuery(q)
		if err != nil {
			t.Fatalf("accepted a query ParseForm refuses (%v): %q", err, q)
		}
		msg := &taskv1.ListTasksRequest{}
		if err := (&runtime.DefaultQueryParser{}).Parse(msg, values, utilities.NewDoubleArray(nil)); err != nil {
			t.Fatalf("accepted a query the parser refuses (%v): %q", err, q)
		}
		if _, err := proto.Marshal(msg); err != nil {
			t.Fatalf("accepted a query whose request cannot be sent (%v): %q", err, q)
		}
	})
}

// TestSafetyNets: what the handlers would report if a request reached them
// unchecked is still in words for a client, without parser text.
func TestSafetyNets(t *testing.T) {
	m := jsonMarshaler{&runtime.JSONPb{UnmarshalOptions: unmarshalOptions}}
	for _, body := range []string{`{"title":`, `{"title":"\ud800"}`, `{"title":"a","title":"b"}`} {
		err := m.NewDecoder(strings.NewReader(body)).Decode(&taskv1.Task{})
		if !errors.Is(err, errBodyNotJSON) {
			t.Errorf("decoding %s: %v, want errBodyNotJSON", body, err)
		}
	}
	if err := m.NewDecoder(strings.NewReader(``)).Decode(&taskv1.Task{}); !errors.Is(err, io.EOF) {
		t.Errorf("empty body: %v, want io.EOF (the handlers treat it as an empty message)", err)
	}

	err := queryParser{}.Parse(&taskv1.ListTasksRequest{}, url.Values{"page_size": {"abc"}}, utilities.NewDoubleArray(nil))
	if err == nil || !strings.HasPrefix(err.Error(), "page_size: must be an integer") {
		t.Errorf("query parser: %v", err)
	}
	wantClean(t, []grpcerr.FieldViolation{{Field: "x", Description: err.Error()}})
	if err := (queryParser{}).Parse(&taskv1.ListTasksRequest{}, url.Values{"page_size": {"5"}}, utilities.NewDoubleArray(nil)); err != nil {
		t.Errorf("query parser refused page_size=5: %v", err)
	}

	st := handlerParseError(status.New(codes.InvalidArgument, `type mismatch, parameter: task.id, error: strconv.ParseInt: parsing "x": invalid syntax`))
	if got := grpcerr.Fields(st.Err()); !slices.Equal(got, []string{"task.id"}) || strings.Contains(st.Message(), "strconv") {
		t.Errorf("path mismatch reworded as %v: %q", got, st.Message())
	}
	upstream := status.New(codes.InvalidArgument, "the service's own words")
	if handlerParseError(upstream) != upstream {
		t.Error("an upstream INVALID_ARGUMENT was reworded")
	}
}

func TestNoQuery_RefusesEveryParameterOnce(t *testing.T) {
	vs := noQuery("x=1&x=2&cache%20buster=3")
	wantClean(t, vs)
	if got := fields(vs); !slices.Equal(got, []string{"x", "cache buster"}) {
		t.Fatalf("fields %q, want x and cache buster", got)
	}
	if !strings.Contains(vs[0].Description, "takes none") {
		t.Errorf("description %q", vs[0].Description)
	}
}

func TestCheckBody_NestedTooDeeply(t *testing.T) {
	task := (&taskv1.Task{}).ProtoReflect().Descriptor()
	deep := maxJSONDepth + 1
	body := `{"title":"x","bogus":` + strings.Repeat("[", deep) + strings.Repeat("]", deep) + `}`
	vs := checkBody([]byte(body), task, "task")
	wantClean(t, vs)
	if len(vs) != 1 || vs[0].Field != "task.bogus" || !strings.Contains(vs[0].Description, "nested too deeply") {
		t.Fatalf("violations %v, want task.bogus nested too deeply", vs)
	}
}

func TestGatewayViolationsNameTheHeader(t *testing.T) {
	violations := func(st *status.Status) []grpcerr.FieldViolation { return grpcerr.FieldViolations(st.Err()) }
	for _, tt := range []struct {
		name  string
		st    *status.Status
		field string
	}{
		{"bad Grpc-Timeout", handlerParseError(status.New(codes.InvalidArgument, "invalid grpc-timeout: soon")), "Grpc-Timeout"},
		{"415", checkContentType("text/plain"), "Content-Type"},
		{"415 charset", checkContentType("application/json; charset=latin1"), "Content-Type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vs := violations(tt.st)
			wantClean(t, vs)
			if got := fields(vs); !slices.Equal(got, []string{tt.field}) {
				t.Fatalf("fields %q, want %q: %v", got, tt.field, tt.st.Message())
			}
			if !strings.HasPrefix(tt.st.Message(), "invalid request: ") && tt.name == "bad Grpc-Timeout" {
				t.Errorf("message %q", tt.st.Message())
			}
		})
	}
	// 431 names the largest header.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1/tasks", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 2000))
	withHeaderLimit(http.NotFoundHandler(), 1000).ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(rec.Body.String(), `"field":"X-Big"`) {
		t.Errorf("431: %d %s", rec.Code, rec.Body)
	}
	// 413 has no violation but says what is too large.
	if st := tooLargeStatus(10); len(st.Details()) != 0 || !strings.Contains(st.Message(), "request body is larger than the limit of 10 bytes") {
		t.Errorf("413: %q %v", st.Message(), st.Details())
	}
}

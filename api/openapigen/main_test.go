package main

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/todo-platform/todo/api/openapi"
)

// load returns the embedded document, valid as kin-openapi sees it.
func load(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.JSON)
	if err != nil {
		t.Fatalf("load api/openapi: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("api/openapi is not valid OpenAPI: %v", err)
	}
	if got, want := doc.OpenAPI, "3.0.3"; got != want {
		t.Errorf("openapi = %q, want %q", got, want)
	}
	return doc
}

// byID returns each operation of the document by its operationId.
func byID(doc *openapi3.T) map[string]operation {
	out := map[string]operation{}
	for _, op := range operations(doc) {
		out[op.OperationID] = op
	}
	return out
}

func TestDocument_PublicOperationsNeedNoToken(t *testing.T) {
	public := []string{"UserService_CreateUser", "UserService_Login", "UserService_RefreshToken", "UserService_Logout", "UserService_GetPublicKeys",
		"UserService_VerifyEmail", "UserService_RequestPasswordReset", "UserService_ResetPassword"}
	doc := load(t)
	if len(doc.Security) != 1 || doc.Security[0]["bearer"] == nil {
		t.Errorf("document security = %v, want the bearer scheme", doc.Security)
	}
	if s := doc.Components.SecuritySchemes["bearer"].Value; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("bearer scheme = %s %s, want http bearer", s.Type, s.Scheme)
	}
	ops := byID(doc)
	for id, op := range ops {
		isPublic := slices.Contains(public, id)
		switch {
		case isPublic && (op.Security == nil || len(*op.Security) != 0):
			t.Errorf("%s is public but its security is %v, want []", id, op.Security)
		case !isPublic && op.Security != nil:
			t.Errorf("%s needs a token but has its own security %v", id, *op.Security)
		}
	}
	for _, id := range public {
		if _, ok := ops[id]; !ok {
			t.Errorf("no operation %s", id)
		}
	}
}

func TestDocument_PatchTakesUpdateMaskAndRequiresNoField(t *testing.T) {
	ops := byID(load(t))
	for _, id := range []string{"TaskService_UpdateTask", "UserService_UpdateUser"} {
		op, ok := ops[id]
		if !ok || op.method != http.MethodPatch {
			t.Errorf("%s: no PATCH operation", id)
			continue
		}
		mask := op.Parameters.GetByInAndName(openapi3.ParameterInQuery, "update_mask")
		if mask == nil || mask.Required {
			t.Errorf("%s: update_mask is not an optional query parameter: %+v", id, mask)
		}
		body := op.RequestBody.Value.Content.Get("application/json").Schema.Value
		if len(body.Required) != 0 {
			t.Errorf("%s: the PATCH body requires %v", id, body.Required)
		}
		if len(body.Properties) == 0 {
			t.Errorf("%s: the PATCH body has no properties", id)
		}
	}
	// The create body still requires the title.
	if req := ops["TaskService_CreateTask"].RequestBody.Value.Content.Get("application/json").Schema.Value.Required; !slices.Contains(req, "title") {
		t.Errorf("CreateTask body requires %v, want title", req)
	}
}

func TestDocument_NoUnspecifiedEnumValue(t *testing.T) {
	doc := load(t)
	list := byID(doc)["TaskService_ListTasks"]
	for _, name := range []string{"status", "priority"} {
		p := list.Parameters.GetByInAndName(openapi3.ParameterInQuery, name)
		if p == nil {
			t.Fatalf("ListTasks has no %s filter", name)
		}
		enum := p.Schema.Value.Items.Value.Enum
		if len(enum) < 3 {
			t.Errorf("%s filter enum = %v", name, enum)
		}
		for _, v := range enum {
			if strings.HasSuffix(v.(string), "_UNSPECIFIED") {
				t.Errorf("%s filter allows %s, which the server refuses", name, v)
			}
		}
	}
	for name, s := range doc.Components.Schemas {
		for _, v := range s.Value.Enum {
			if str, _ := v.(string); strings.HasSuffix(str, "_UNSPECIFIED") {
				t.Errorf("schema %s allows %s", name, str)
			}
		}
	}
}

func TestDocument_ErrorResponsesUseTheErrorSchema(t *testing.T) {
	ops := byID(load(t))
	want := map[string][]string{
		"UserService_CreateUser":    {"400", "409", "413", "415", "429", "431", "503", "default"},
		"UserService_Login":         {"400", "401", "413", "415", "429", "431", "503", "default"},
		"UserService_GetPublicKeys": {"400", "431", "503", "default"},
		"TaskService_GetTask":       {"400", "401", "403", "404", "431", "503", "default"},
		"TaskService_ListTasks":     {"400", "401", "403", "431", "503", "default"},
		"TaskService_UpdateTask":    {"400", "401", "403", "404", "409", "413", "415", "431", "503", "default"},
		"TaskService_DeleteTask":    {"400", "401", "403", "404", "409", "431", "503", "default"},
	}
	for id, statuses := range want {
		op := ops[id]
		for _, status := range statuses {
			r := op.Responses.Value(status)
			if r == nil {
				t.Errorf("%s: no %s response", id, status)
				continue
			}
			if ref := r.Value.Content.Get("application/json").Schema.Ref; ref != "#/components/schemas/rpcStatus" {
				t.Errorf("%s %s: schema %q, want the error schema", id, status, ref)
			}
			if _, ok := r.Value.Headers["Retry-After"]; ok != (status == "429" || status == "503") {
				t.Errorf("%s %s: Retry-After documented = %v", id, status, ok)
			}
		}
	}
	for id, op := range ops {
		for _, status := range []string{"400", "431", "503", "default"} {
			if op.Responses.Value(status) == nil {
				t.Errorf("%s: no %s response", id, status)
			}
		}
		if op.Responses.Value("200") == nil {
			t.Errorf("%s: no 200 response", id)
		}
	}
	errSchema := load(t).Components.Schemas["rpcStatus"].Value
	if !slices.Equal(errSchema.Required, []string{"code", "message", "details"}) {
		t.Errorf("error schema requires %v", errSchema.Required)
	}
}

func TestDocument_Int64AsStringsOutputsReadOnly(t *testing.T) {
	task := load(t).Components.Schemas["v1Task"].Value
	for _, name := range []string{"id", "created_by", "assigned_to"} {
		p := task.Properties[name].Value
		if !p.Type.Is("string") || p.Format != "int64" {
			t.Errorf("Task.%s is %v/%s, want string/int64", name, p.Type, p.Format)
		}
	}
	for _, name := range []string{"id", "created_by", "created_at", "updated_at", "completed_at"} {
		if !task.Properties[name].Value.ReadOnly {
			t.Errorf("Task.%s is not readOnly", name)
		}
	}
	for _, name := range []string{"title", "description", "status", "etag"} {
		if task.Properties[name].Value.ReadOnly {
			t.Errorf("Task.%s is readOnly", name)
		}
	}
}

func TestDocument_MainOperationsHaveExamples(t *testing.T) {
	doc := load(t)
	ops := byID(doc)
	for _, id := range []string{"UserService_CreateUser", "UserService_Login", "TaskService_CreateTask", "TaskService_UpdateTask"} {
		ex, ok := ops[id].RequestBody.Value.Content.Get("application/json").Example.(map[string]any)
		if !ok || len(ex) == 0 {
			t.Errorf("%s: no request example", id)
			continue
		}
		for _, out := range []string{"id", "created_at"} {
			if _, ok := ex[out]; ok {
				t.Errorf("%s: the request example has the output-only %s", id, out)
			}
		}
	}
	for _, name := range []string{"v1Task", "v1User", "v1TokenPair", "v1ListTasksResponse"} {
		if doc.Components.Schemas[name].Value.Example == nil {
			t.Errorf("schema %s has no example", name)
		}
	}
}

// responseSchema returns the schema of op's 200 response, resolved.
func responseSchema(t *testing.T, op operation) *openapi3.Schema {
	t.Helper()
	r := op.Responses.Value("200")
	if r == nil {
		t.Fatalf("%s has no 200 response", op.OperationID)
	}
	return r.Value.Content.Get("application/json").Schema.Value
}

func bodySchema(op operation) *openapi3.SchemaRef {
	return op.RequestBody.Value.Content.Get("application/json").Schema
}

func TestDocument_ResponsesRequireWhatTheServerAlwaysSends(t *testing.T) {
	doc := load(t)
	ops := byID(doc)
	schema := func(name string) *openapi3.Schema {
		s := doc.Components.Schemas[name]
		if s == nil {
			t.Fatalf("no schema %s", name)
		}
		return s.Value
	}
	want := map[string][]string{
		"v1Task":                 {"id", "title", "description", "status", "priority", "created_by", "etag", "created_at", "updated_at"},
		"v1User":                 {"id", "username", "full_name"},
		"v1LoginResponse":        {"tokens", "user"},
		"v1RefreshTokenResponse": {"tokens"},
		"v1TokenPair":            {"access_token", "token_type", "access_token_expire_time", "refresh_token", "refresh_token_expire_time"},
		"v1ListTasksResponse":    {"tasks", "next_page_token"},
		"v1ListUsersResponse":    {"users", "next_page_token"},
		"v1GetTaskStatsResponse": {"counts", "total", "overdue"},
		"v1TaskCount":            {"status", "priority", "count"},
		"v1PublicKey":            {"kid", "kty", "crv", "x", "alg", "use"},
	}
	for name, fields := range want {
		if got := schema(name).Required; !sameSet(got, fields) {
			t.Errorf("%s requires %v, want %v", name, got, fields)
		}
	}
	// Absent when unset or from a public profile: never required.
	for name, fields := range map[string][]string{
		"v1Task": {"assigned_to", "due_date", "completed_at"},
		"v1User": {"email", "is_active", "is_verified", "is_admin", "created_at", "updated_at"},
	} {
		for _, f := range fields {
			if slices.Contains(schema(name).Required, f) {
				t.Errorf("%s requires %s, which a response may leave out", name, f)
			}
		}
	}
	// Responses never hold null.
	for name, s := range doc.Components.Schemas {
		if strings.HasSuffix(name, "Update") {
			continue
		}
		for p, ps := range s.Value.Properties {
			if ps.Value.Nullable {
				t.Errorf("%s.%s is nullable outside a PATCH body", name, p)
			}
		}
	}
	// The operations answer the schemas above.
	if got := responseSchema(t, ops["TaskService_GetTask"]); !slices.Contains(got.Required, "etag") {
		t.Errorf("GetTask answers a schema requiring %v", got.Required)
	}
}

func TestDocument_RequestBodiesAreCopiesRequiringOnlyRequiredFields(t *testing.T) {
	ops := byID(load(t))
	cases := []struct {
		op, schema string
		required   []string
		nullable   []string
	}{
		{"TaskService_CreateTask", "v1TaskCreate", []string{"title"}, nil},
		{"TaskService_UpdateTask", "v1TaskUpdate", nil, []string{"due_date"}},
		{"UserService_UpdateUser", "v1UserUpdate", nil, nil},
	}
	for _, c := range cases {
		body := bodySchema(ops[c.op])
		if body.Ref != "#/components/schemas/"+c.schema {
			t.Errorf("%s body is %q, want %s", c.op, body.Ref, c.schema)
			continue
		}
		if !sameSet(body.Value.Required, c.required) {
			t.Errorf("%s body requires %v, want %v", c.op, body.Value.Required, c.required)
		}
		var nullable []string
		for p, ps := range body.Value.Properties {
			if ps.Value.Nullable {
				nullable = append(nullable, p)
			}
		}
		if !sameSet(nullable, c.nullable) {
			t.Errorf("%s body: nullable %v, want %v", c.op, nullable, c.nullable)
		}
	}
	// A PATCH body accepts the whole object read with GET.
	for _, c := range []struct{ patch, get string }{{"TaskService_UpdateTask", "TaskService_GetTask"}, {"UserService_UpdateUser", "UserService_GetUser"}} {
		body := bodySchema(ops[c.patch]).Value
		for p := range responseSchema(t, ops[c.get]).Properties {
			if body.Properties[p] == nil {
				t.Errorf("%s body lacks %s, which %s answers", c.patch, p, c.get)
			}
		}
	}
}

func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(s string) bool { return !slices.Contains(b, s) })
}

func TestDocument_ExamplesAreTrueToTheServer(t *testing.T) {
	doc := load(t)
	// An unassigned task has no assigned_to at all, never "0".
	var zeroAssignee func(where string, v any)
	zeroAssignee = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if a, ok := v["assigned_to"]; ok && (a == "0" || a == float64(0)) {
				t.Errorf("%s: example has assigned_to %v", where, a)
			}
			for _, x := range v {
				zeroAssignee(where, x)
			}
		case []any:
			for _, x := range v {
				zeroAssignee(where, x)
			}
		}
	}
	for name, s := range doc.Components.Schemas {
		zeroAssignee("schema "+name, s.Value.Example)
	}
	for _, op := range operations(doc) {
		for status, r := range op.Responses.Map() {
			for _, mt := range r.Value.Content {
				zeroAssignee(op.OperationID+" "+status, mt.Example)
			}
		}
		if op.RequestBody == nil {
			continue
		}
		for _, mt := range op.RequestBody.Value.Content {
			zeroAssignee(op.OperationID+" request", mt.Example)
			example, _ := mt.Example.(map[string]any)
			for k := range example {
				p := mt.Schema.Value.Properties[k]
				switch {
				case p == nil:
					t.Errorf("%s request example has %s, not in the body", op.OperationID, k)
				case p.Value.ReadOnly:
					t.Errorf("%s request example has read-only %s", op.OperationID, k)
				case k == "etag" && op.method == http.MethodPost:
					t.Errorf("%s request example has an etag, which a create ignores", op.OperationID)
				}
			}
		}
	}
}

func TestDocument_ErrorDetailsAreTyped(t *testing.T) {
	doc := load(t)
	items := doc.Components.Schemas["rpcStatus"].Value.Properties["details"].Value.Items.Value
	if items.Discriminator == nil || items.Discriminator.PropertyName != "@type" {
		t.Fatalf("details items have no @type discriminator: %+v", items)
	}
	byType := map[string]*openapi3.Schema{}
	for _, s := range items.OneOf {
		byType[s.Value.Properties["@type"].Value.Enum[0].(string)] = s.Value
	}
	br := byType["type.googleapis.com/google.rpc.BadRequest"]
	if br == nil {
		t.Fatalf("no BadRequest among %v", slices.Collect(maps.Keys(byType)))
	}
	fv := br.Properties["field_violations"].Value.Items.Value
	if !sameSet(fv.Required, []string{"field", "description", "reason"}) {
		t.Errorf("a field violation requires %v", fv.Required)
	}
	if ri := byType["type.googleapis.com/google.rpc.RetryInfo"]; ri == nil || ri.Properties["retry_delay"] == nil {
		t.Errorf("no RetryInfo with retry_delay")
	}
	// A BadRequest detail as the gateway writes it validates; one whose
	// violations are not objects does not.
	details := doc.Components.Schemas["rpcStatus"].Value.Properties["details"].Value
	good := []any{map[string]any{"@type": "type.googleapis.com/google.rpc.BadRequest",
		"field_violations": []any{map[string]any{"field": "task.title", "description": "must not be blank", "reason": ""}}}}
	if err := details.VisitJSON(good); err != nil {
		t.Errorf("a BadRequest detail: %v", err)
	}
	bad := []any{map[string]any{"@type": "type.googleapis.com/google.rpc.BadRequest", "field_violations": []any{"title"}}}
	if err := details.VisitJSON(bad); err == nil {
		t.Error("a BadRequest detail with a string violation validated")
	}
}

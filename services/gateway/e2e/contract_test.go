package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/todo-platform/todo/api/openapi"
)

// contract is an http.RoundTripper that checks every call to the API (a
// /v1/ path) against the OpenAPI document the gateway serves: the request
// must be one the document allows, and the response, errors included, must
// be one the document declares for that operation, with a status it lists
// explicitly (not only through "default") unless it is a 5xx. Any mismatch
// is returned as the round trip's error, so the call fails the test.
//
// A test that sends bad input on purpose marks the request with
// offContract: a request the document refuses must then be refused by the
// server too (a 4xx), and its response must still match the document.
type contract struct {
	router routers.Router
	next   http.RoundTripper
}

// newContractClient returns an HTTP client whose calls to the API are
// checked against api/openapi.
func newContractClient(t testing.TB) *http.Client {
	t.Helper()
	return newContractClientVia(t, http.DefaultTransport)
}

// newContractClientVia is newContractClient sending its requests with next.
func newContractClientVia(t testing.TB, next http.RoundTripper) *http.Client {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.JSON)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("route the OpenAPI document: %v", err)
	}
	return &http.Client{Transport: &contract{router: router, next: next}}
}

type offContractKey struct{}

// offContract marks a request as one that may break the document on
// purpose (see contract).
func offContract(ctx context.Context) context.Context {
	return context.WithValue(ctx, offContractKey{}, true)
}

func (c *contract) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, "/v1/") {
		return c.next.RoundTrip(req)
	}
	bad, _ := req.Context().Value(offContractKey{}).(bool)
	what := req.Method + " " + req.URL.RequestURI()

	// The body is read once and given to both the validator and the wire.
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, fmt.Errorf("%s: read request body: %w", what, err)
		}
		_ = req.Body.Close()
	}
	resetBody := func() {
		if req.Body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
	}

	route, pathParams, routeErr := c.router.FindRoute(req)
	var input *openapi3filter.RequestValidationInput
	reqErr := routeErr
	if routeErr == nil {
		input = &openapi3filter.RequestValidationInput{
			Request: req, PathParams: pathParams, Route: route,
			Options: &openapi3filter.Options{
				MultiError: true,
				// The server checks the token; the document only says
				// which operations need one.
				AuthenticationFunc: func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
				// OpenAPI 3.0 says read-only properties SHOULD NOT be
				// sent, not MUST NOT: a client may PATCH back the whole
				// object it read, and the server ignores them.
				ExcludeReadOnlyValidations: true,
			},
		}
		resetBody()
		reqErr = openapi3filter.ValidateRequest(req.Context(), input)
	}
	if reqErr != nil && !bad {
		return nil, fmt.Errorf("%s: the request does not match the OpenAPI document: %w", what, reqErr)
	}

	resetBody()
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: read response body: %w", what, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))

	if reqErr != nil && (resp.StatusCode < 400 || resp.StatusCode >= 500) {
		return nil, fmt.Errorf("%s: the server answered %d to a request the OpenAPI document refuses (%v)", what, resp.StatusCode, reqErr)
	}
	if routeErr != nil {
		// No operation to check the response against (an unknown route
		// or method), and the server refused it.
		return resp, nil
	}
	if resp.StatusCode < 500 && route.Operation.Responses.Status(resp.StatusCode) == nil {
		return nil, fmt.Errorf("%s: status %d is not documented for %s: %s", what, resp.StatusCode, route.Operation.OperationID, raw)
	}
	respErr := openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(raw)),
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	})
	if respErr != nil {
		return nil, fmt.Errorf("%s: the %d response does not match the OpenAPI document: %w\n%s", what, resp.StatusCode, respErr, raw)
	}
	return resp, nil
}

// TestContract_FailsCallsTheDocumentRefuses checks the checker itself
// against a fake server that answers GET /v1/tasks (ListTasks) with the
// body chosen by page_token: a request or a response the document refuses,
// or an undocumented status, fails the call; a call that keeps to the
// document passes.
func TestContract_FailsCallsTheDocumentRefuses(t *testing.T) {
	// task is a whole task as the server writes it, with the members
	// given replacing or adding to its own.
	task := func(members string) string {
		return `{"tasks": [{` + members + `"title": "t", "description": "", "status": "TASK_STATUS_PENDING", "priority": "TASK_PRIORITY_MEDIUM", ` +
			`"created_by": "7", "created_at": "2030-01-02T09:30:00Z", "updated_at": "2030-01-02T09:30:00Z"}], "next_page_token": ""}`
	}
	answers := map[string]struct {
		status int
		body   string
	}{
		"good":        {200, task(`"id": "1", "etag": "v1", `)},
		"number":      {200, task(`"id": 2, "etag": "v1", `)},                     // int64 as a number
		"null":        {200, task(`"id": "3", "etag": "v1", "due_date": null, `)}, // null, not omitted
		"missing":     {200, task(`"id": "4", `)},                                 // no etag, which is always sent
		"unspecified": {200, strings.Replace(task(`"id": "5", "etag": "v1", `), "TASK_STATUS_PENDING", "TASK_STATUS_UNSPECIFIED", 1)},
		"teapot":      {418, `{"code": 2, "message": "teapot", "details": []}`}, // undocumented status
		"shape":       {400, `{"message": "no code"}`},                          // not the error shape
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Query().Get("page_token")]
		if !ok {
			a = answers["good"]
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	hc := newContractClient(t)
	call := func(ctx context.Context, query string) error {
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/tasks?"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer x")
		resp, err := hc.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	}
	if err := call(t.Context(), "page_token=good"); err != nil {
		t.Errorf("a call by the document: %v", err)
	}
	for _, tok := range []string{"number", "null", "missing", "unspecified", "teapot", "shape"} {
		if err := call(t.Context(), "page_token="+tok); err == nil {
			t.Errorf("the response %s passed the contract check", answers[tok].body)
		}
	}
	if err := call(t.Context(), "status=TASK_STATUS_UNSPECIFIED"); err == nil || !strings.Contains(err.Error(), "request does not match") {
		t.Errorf("a request with an UNSPECIFIED filter: %v, want refused before sending", err)
	}
	// Marked as bad input, the same request is sent, and the server's 200
	// to it is the mismatch.
	if err := call(offContract(t.Context()), "status=TASK_STATUS_UNSPECIFIED"); err == nil || !strings.Contains(err.Error(), "answered 200") {
		t.Errorf("an off-contract request answered 200: %v", err)
	}
}

// Command openapigen turns the Swagger 2.0 document that protoc-gen-openapiv2
// writes from the protos into the OpenAPI 3.0.3 document the gateway serves
// (api/openapi/openapi.json). `make generate` runs it.
//
// The conversion is kin-openapi's openapi2conv; after it come the few fixes
// that neither Swagger 2.0 nor the protoc-gen-openapiv2 options can express,
// each below with its reason. Everything else (routes, schemas, required and
// read-only fields, public operations, examples, method-specific errors)
// comes from the protos.
//
// Usage:
//
//	openapigen -in tmp/openapiv2/todo.swagger.json -out api/openapi/openapi.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/todo-platform/todo/api/apidesc"
)

func main() {
	in := flag.String("in", "", "the Swagger 2.0 document to read")
	out := flag.String("out", "", "the OpenAPI 3 document to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	if in == "" || out == "" {
		return fmt.Errorf("both -in and -out are required")
	}
	src, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("read Swagger document: %w", err)
	}
	files, err := apidesc.Files()
	if err != nil {
		return err
	}
	d, err := newDescriptors(files)
	if err != nil {
		return err
	}
	doc, err := convert(src, d)
	if err != nil {
		return err
	}
	// MarshalIndent sorts map keys, so the output is stable for
	// check-generated.
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("marshal OpenAPI document: %w", err)
	}
	if err := os.WriteFile(out, append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("write OpenAPI document: %w", err)
	}
	return nil
}

// errorSchema is the definition protoc-gen-openapiv2 gives google.rpc.Status,
// the body of every error response the gateway writes.
const errorSchema = "rpcStatus"

// convert converts a Swagger 2.0 document and applies the fixes.
func convert(src []byte, d *descriptors) (*openapi3.T, error) {
	var doc2 openapi2.T
	if err := json.Unmarshal(src, &doc2); err != nil {
		return nil, fmt.Errorf("decode Swagger document: %w", err)
	}
	doc, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("convert to OpenAPI 3: %w", err)
	}
	doc.OpenAPI = "3.0.3"
	if doc.Components.Schemas[errorSchema] == nil {
		return nil, fmt.Errorf("no %s schema: is disable_default_errors off?", errorSchema)
	}

	if err := mergeEquivalentPaths(doc); err != nil {
		return nil, err
	}
	bearerAuth(doc)
	errorShape(doc)
	addErrorResponses(doc)
	if err := shapeSchemas(doc, d); err != nil {
		return nil, err
	}
	if err := itemRequestCopies(doc, d); err != nil {
		return nil, err
	}
	requestExamplesWithoutOutputs(doc)

	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the generated document is not valid OpenAPI: %w", err)
	}
	return doc, nil
}

// mergeEquivalentPaths merges paths that differ only in the names of their
// parameters, such as /v1/tasks/{id} (GetTask) and /v1/tasks/{task.id}
// (UpdateTask): OpenAPI forbids them as separate paths (they match the same
// URLs), while the gateway routes both. The operations move to the path
// that sorts first, their path parameters renamed by position.
func mergeEquivalentPaths(doc *openapi3.T) error {
	params := regexp.MustCompile(`\{[^}]*\}`)
	kept := map[string]string{} // template with "{}" for each parameter → path
	for _, path := range slices.Sorted(maps.Keys(doc.Paths.Map())) {
		shape := params.ReplaceAllString(path, "{}")
		first, seen := kept[shape]
		if !seen {
			kept[shape] = path
			continue
		}
		names := params.FindAllString(first, -1)
		for i, old := range params.FindAllString(path, -1) {
			from, to := strings.Trim(old, "{}"), strings.Trim(names[i], "{}")
			for method, op := range doc.Paths.Value(path).Operations() {
				for _, p := range op.Parameters {
					if p.Value.In == openapi3.ParameterInPath && p.Value.Name == from {
						p.Value.Name = to
					}
				}
				if doc.Paths.Value(first).GetOperation(method) != nil {
					return fmt.Errorf("%s %s and %s %s are the same route", method, first, method, path)
				}
			}
		}
		for method, op := range doc.Paths.Value(path).Operations() {
			doc.Paths.Value(first).SetOperation(method, op)
		}
		doc.Paths.Delete(path)
	}
	return nil
}

// bearerAuth turns API-key schemes sent in the Authorization header into
// HTTP bearer schemes: Swagger 2.0 has no bearer type, so the protos declare
// an API key, but a client generated from "apiKey" would send the token
// without its "Bearer " prefix.
func bearerAuth(doc *openapi3.T) {
	for _, ref := range doc.Components.SecuritySchemes {
		s := ref.Value
		if s.Type == "apiKey" && s.In == "header" && strings.EqualFold(s.Name, "Authorization") {
			s.Type, s.In, s.Name = "http", "", ""
			s.Scheme, s.BearerFormat = "bearer", "JWT"
		}
	}
}

// errorShape marks code, message and details of the error body required:
// the gateway writes all three in every error, and a client should not have
// to treat them as optional.
func errorShape(doc *openapi3.T) {
	s := doc.Components.Schemas[errorSchema].Value
	s.Description = "The error body of every non-2xx response: a gRPC status code, a message for people, " +
		"and details such as google.rpc.BadRequest field violations or google.rpc.RetryInfo."
	s.Required = []string{"code", "message", "details"}
	typedDetails(doc, s)
}

// errorDetail is one google.rpc detail type the services send, as the
// gateway writes it: protojson with EmitDefaultValues, so every string is
// there.
type errorDetail struct {
	schema, typeURL, description string
	field                        string // the array or message member
	member                       *openapi3.Schema
}

// typedDetails types the error body's details, which protoc-gen-openapiv2
// gives as google.protobuf.Any, as the three detail messages the services
// send: one of them by the "@type" discriminator, so a generated client
// reads field_violations without casts.
func typedDetails(doc *openapi3.T, status *openapi3.Schema) {
	described := func(s *openapi3.Schema, desc string) *openapi3.Schema {
		s.Description = desc
		return s
	}
	str := func(desc string) *openapi3.SchemaRef {
		return described(openapi3.NewStringSchema(), desc).NewRef()
	}
	object := func(desc string, props map[string]*openapi3.SchemaRef, required ...string) *openapi3.Schema {
		o := described(openapi3.NewObjectSchema(), desc)
		o.Properties = props
		o.Required = required
		return o
	}
	fieldViolation := object("A field of the request and what is wrong with it.", map[string]*openapi3.SchemaRef{
		"field":       str("The field's path in the request, such as task.title; a header's name (Content-Type, Grpc-Timeout) for header errors; empty for the request as a whole."),
		"description": str("What is wrong, for people."),
		"reason":      str("A stable code for the kind of error, when there is one; empty otherwise."),
	}, "field", "description", "reason")
	preconditionViolation := object("A precondition that failed.", map[string]*openapi3.SchemaRef{
		"type":        str("The kind of precondition."),
		"subject":     str("The field or resource it concerns."),
		"description": str("What failed, for people."),
	}, "type", "subject", "description")
	details := []errorDetail{
		{"rpcBadRequest", "type.googleapis.com/google.rpc.BadRequest", "google.rpc.BadRequest: the fields of the request that are invalid (INVALID_ARGUMENT, and the gateway's own 4xx).",
			"field_violations", openapi3.NewArraySchema().WithItems(fieldViolation)},
		{"rpcPreconditionFailure", "type.googleapis.com/google.rpc.PreconditionFailure", "google.rpc.PreconditionFailure: the preconditions that failed (FAILED_PRECONDITION).",
			"violations", openapi3.NewArraySchema().WithItems(preconditionViolation)},
		{"rpcRetryInfo", "type.googleapis.com/google.rpc.RetryInfo", "google.rpc.RetryInfo: when to retry (429, 503); Retry-After says the same in seconds.",
			"retry_delay", described(openapi3.NewStringSchema(), "A google.protobuf.Duration such as \"1s\" or \"0.500s\".")},
	}
	disc := &openapi3.Discriminator{PropertyName: "@type", Mapping: map[string]openapi3.MappingRef{}}
	var oneOf openapi3.SchemaRefs
	for _, d := range details {
		typ := described(openapi3.NewStringSchema(), "The detail's type URL.")
		typ.Enum = []any{d.typeURL}
		s := object(d.description, map[string]*openapi3.SchemaRef{"@type": typ.NewRef(), d.field: d.member.NewRef()}, "@type", d.field)
		doc.Components.Schemas[d.schema] = s.NewRef()
		ref := "#/components/schemas/" + d.schema
		disc.Mapping[d.typeURL] = openapi3.MappingRef{Ref: ref}
		oneOf = append(oneOf, &openapi3.SchemaRef{Ref: ref, Value: s})
	}
	item := &openapi3.Schema{OneOf: oneOf, Discriminator: disc}
	status.Properties["details"] = described(openapi3.NewArraySchema().WithItems(item), "Details of the error, told apart by @type.").NewRef()
}

// errorResponse is one error status shared by several operations.
type errorResponse struct {
	status, name, description string
	// applies says whether an operation can answer this status.
	applies func(op *openapi3.Operation) bool
}

// sharedErrors are the statuses that follow from an operation's shape, so
// the protos need not repeat them per method. Statuses only the handlers
// know (a taken username, a throttled login, a wrong password on a public
// method) are declared on the method in the proto (openapiv2_operation
// responses) and get the error schema from addErrorResponses.
func sharedErrors() []errorResponse {
	return []errorResponse{
		{"400", "BadRequest", "INVALID_ARGUMENT or FAILED_PRECONDITION: a field, parameter or header (such as Grpc-Timeout) is malformed or breaks a rule; field violations name the field.",
			func(*openapi3.Operation) bool { return true }},
		{"401", "Unauthenticated", "UNAUTHENTICATED: the access token is missing, invalid, expired or revoked.",
			func(op *openapi3.Operation) bool { return secured(op) }},
		{"403", "PermissionDenied", "PERMISSION_DENIED: the caller may see the resource but not do this to it.",
			func(op *openapi3.Operation) bool { return secured(op) }},
		{"404", "NotFound", "NOT_FOUND: no such resource, or one the caller may not see.",
			func(op *openapi3.Operation) bool { return hasParam(op, openapi3.ParameterInPath) }},
		{"409", "Conflict", "ABORTED: the etag is stale; read the resource again and retry.",
			func(op *openapi3.Operation) bool { return takesEtag(op) }},
		{"413", "PayloadTooLarge", "The request body is larger than the gateway accepts.",
			func(op *openapi3.Operation) bool { return op.RequestBody != nil }},
		{"415", "UnsupportedMediaType", "The request body is not application/json.",
			func(op *openapi3.Operation) bool { return op.RequestBody != nil }},
		{"431", "RequestHeaderFieldsTooLarge", "The request headers are larger than the gateway accepts (MAX_HEADER_BYTES).",
			func(*openapi3.Operation) bool { return true }},
		{"503", "Unavailable", "UNAVAILABLE: a service behind the gateway cannot be reached; retry later.",
			func(*openapi3.Operation) bool { return true }},
	}
}

// addErrorResponses documents the error statuses each operation can answer,
// all with the error schema: protoc-gen-openapiv2 writes only a "default"
// response, and responses declared in the protos carry no schema. 429 and
// 503 carry Retry-After.
func addErrorResponses(doc *openapi3.T) {
	errRef := &openapi3.SchemaRef{Ref: "#/components/schemas/" + errorSchema, Value: doc.Components.Schemas[errorSchema].Value}
	content := func() openapi3.Content { return openapi3.NewContentWithJSONSchemaRef(errRef) }
	retryAfter := openapi3.Headers{"Retry-After": &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
		Description: "Seconds to wait before retrying.",
		Schema:      openapi3.NewIntegerSchema().NewRef(),
	}}}}
	withRetry := func(status string, r *openapi3.Response) {
		if status == "429" || status == "503" {
			r.Headers = retryAfter
		}
	}
	if doc.Components.Responses == nil {
		doc.Components.Responses = openapi3.ResponseBodies{}
	}
	shared := map[string]*openapi3.ResponseRef{}
	for _, e := range sharedErrors() {
		r := openapi3.NewResponse().WithDescription(e.description).WithContent(content())
		withRetry(e.status, r)
		doc.Components.Responses[e.name] = &openapi3.ResponseRef{Value: r}
		shared[e.status] = &openapi3.ResponseRef{Ref: "#/components/responses/" + e.name, Value: r}
	}
	for _, op := range operations(doc) {
		for status, ref := range op.Responses.Map() {
			code, err := strconv.Atoi(status)
			if ref.Value == nil || (status != "default" && (err != nil || code < 400)) {
				continue
			}
			// A proto-declared error or the generated default: the error
			// schema, whatever the proto said.
			ref.Value.Content = content()
			withRetry(status, ref.Value)
		}
		for _, e := range sharedErrors() {
			if op.Responses.Value(e.status) == nil && e.applies(op.Operation) {
				op.Responses.Set(e.status, shared[e.status])
			}
		}
	}
}

// requestExamplesWithoutOutputs gives each request body whose schema has an
// example (from openapiv2_schema in the proto) a request example without the
// read-only fields: the schema's example shows the resource as the server
// returns it, and a request holding id or created_at would teach clients
// to send what the server ignores. A create's example has no etag either:
// a create ignores it (a PATCH's keeps it, the conditional write).
func requestExamplesWithoutOutputs(doc *openapi3.T) {
	for _, op := range operations(doc) {
		if op.RequestBody == nil {
			continue
		}
		ignored := func(string) bool { return false }
		if op.method == http.MethodPost {
			ignored = func(k string) bool { return k == "etag" }
		}
		for _, mt := range op.RequestBody.Value.Content {
			s := mt.Schema.Value
			example, ok := s.Example.(map[string]any)
			if !ok {
				continue
			}
			req := make(map[string]any, len(example))
			for k, v := range example {
				// Keys the body does not have (a path parameter's) go too.
				if p := s.Properties[k]; p != nil && !p.Value.ReadOnly && !ignored(k) {
					req[k] = v
				}
			}
			mt.Example = req
		}
	}
}

// secured reports whether an operation needs a token: it has no
// operation-level security (the document's bearer requirement applies) or a
// non-empty one. Public methods say `security: {}` in the proto.
func secured(op *openapi3.Operation) bool {
	return op.Security == nil || len(*op.Security) > 0
}

func hasParam(op *openapi3.Operation, in string) bool {
	return slices.ContainsFunc(op.Parameters, func(p *openapi3.ParameterRef) bool { return p.Value.In == in })
}

// takesEtag reports whether an operation acts on an existing resource (it
// has a path parameter) and accepts an etag, in a parameter or at the top of
// its body: those are the conditional writes that answer 409. (A create
// ignores the etag of the resource it is given.)
func takesEtag(op *openapi3.Operation) bool {
	if !hasParam(op, openapi3.ParameterInPath) {
		return false
	}
	if slices.ContainsFunc(op.Parameters, func(p *openapi3.ParameterRef) bool { return p.Value.Name == "etag" }) {
		return true
	}
	if op.RequestBody == nil {
		return false
	}
	for _, mt := range op.RequestBody.Value.Content {
		if mt.Schema.Value.Properties["etag"] != nil {
			return true
		}
	}
	return false
}

// operation is one method of one path.
type operation struct {
	method string
	*openapi3.Operation
}

// operations returns every operation of the document, in path order.
func operations(doc *openapi3.T) []operation {
	var out []operation
	for _, path := range slices.Sorted(maps.Keys(doc.Paths.Map())) {
		item := doc.Paths.Value(path)
		for _, method := range slices.Sorted(maps.Keys(item.Operations())) {
			out = append(out, operation{method, item.GetOperation(method)})
		}
	}
	return out
}

package main

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2/options"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// apiPackagePrefix is the proto package prefix of the API's own messages.
const apiPackagePrefix = "todo."

// descriptors is what the schema fixes need to know from the protos:
// presence and field_behavior, which Swagger 2.0 cannot say.
type descriptors struct {
	// schemas maps a component schema name as protoc-gen-openapiv2 writes
	// it (the package's last element and the message name, "v1Task") to
	// the message.
	schemas map[string]protoreflect.MessageDescriptor
	// methods maps an operationId ("TaskService_CreateTask") to the method.
	methods map[string]protoreflect.MethodDescriptor
}

func newDescriptors(files *protoregistry.Files) (*descriptors, error) {
	d := &descriptors{schemas: map[string]protoreflect.MessageDescriptor{}, methods: map[string]protoreflect.MethodDescriptor{}}
	var err error
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		pkg := string(fd.Package())
		if !strings.HasPrefix(pkg, apiPackagePrefix) {
			return true
		}
		prefix := pkg[strings.LastIndex(pkg, ".")+1:]
		var walk func(protoreflect.MessageDescriptors, string)
		walk = func(msgs protoreflect.MessageDescriptors, outer string) {
			for i := range msgs.Len() {
				md := msgs.Get(i)
				name := outer + string(md.Name())
				if other, dup := d.schemas[name]; dup {
					err = fmt.Errorf("messages %s and %s have the same schema name %s", other.FullName(), md.FullName(), name)
				}
				d.schemas[name] = md
				walk(md.Messages(), name)
			}
		}
		walk(fd.Messages(), prefix)
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				m := sd.Methods().Get(j)
				d.methods[string(sd.Name())+"_"+string(m.Name())] = m
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if len(d.schemas) == 0 {
		return nil, fmt.Errorf("no %s* messages in the API descriptors", apiPackagePrefix)
	}
	return d, nil
}

func behaviors(fd protoreflect.FieldDescriptor) []annotations.FieldBehavior {
	b, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return b
}

func isRequired(fd protoreflect.FieldDescriptor) bool {
	return slices.Contains(behaviors(fd), annotations.FieldBehavior_REQUIRED)
}

func isOutputOnly(fd protoreflect.FieldDescriptor) bool {
	return slices.Contains(behaviors(fd), annotations.FieldBehavior_OUTPUT_ONLY)
}

// alwaysSet returns the message fields the server sets in every response
// that carries md: the fields named in the message's openapiv2_schema
// `json_schema.required` option. That option is the protos' explicit
// marker for them (presence alone cannot say it).
func alwaysSet(md protoreflect.MessageDescriptor) []string {
	s, _ := proto.GetExtension(md.Options(), options.E_Openapiv2Schema).(*options.Schema)
	return s.GetJsonSchema().GetRequired()
}

// responseRequired is what the gateway writes for every message md in a
// response: it marshals with EmitDefaultValues, so every field without
// presence is there, and so are REQUIRED fields and those declared always
// set.
func responseRequired(md protoreflect.MessageDescriptor) []string {
	var req []string
	always := alwaysSet(md)
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		if !fd.HasPresence() || isRequired(fd) || slices.Contains(always, string(fd.Name())) {
			req = append(req, string(fd.Name()))
		}
	}
	return req
}

// requestRequired is what a request must carry of md: its REQUIRED fields.
func requestRequired(md protoreflect.MessageDescriptor) []string {
	var req []string
	for i := range md.Fields().Len() {
		if fd := md.Fields().Get(i); isRequired(fd) {
			req = append(req, string(fd.Name()))
		}
	}
	return req
}

// shapeSchemas makes the schemas say what the server sends and accepts,
// which protoc-gen-openapiv2 cannot: it gives one schema per message for
// both directions, required only where field_behavior says REQUIRED.
//
//   - Every message schema a 2xx response reaches requires what
//     responseRequired says, so a strict client needs no non-null
//     assertions on fields that are always there.
//   - A request body that is such a schema (the Task of CreateTask, the
//     Task and User of the PATCH methods) gets its own copy, named after
//     the schema and the method ("v1TaskCreate", "v1TaskUpdate"), that
//     requires only the REQUIRED fields, and nothing at all for PATCH: a
//     PATCH changes the fields it sends. The copy keeps every property,
//     read-only ones included, so the object read with GET can be sent
//     back.
//   - In a PATCH copy, writable message fields (due_date) are nullable:
//     null clears them ({"due_date": null}). A null optional scalar (a
//     user's email) would not clear it, so those stay non-nullable, and
//     responses never hold null.
func shapeSchemas(doc *openapi3.T, d *descriptors) error {
	responses := responseSchemas(doc)
	for name := range responses {
		md, ok := d.schemas[name]
		if !ok {
			return fmt.Errorf("response schema %s names no message", name)
		}
		s := doc.Components.Schemas[name].Value
		s.Required = responseRequired(md)
		for _, f := range s.Required {
			if s.Properties[f] == nil {
				return fmt.Errorf("schema %s has no property %s", name, f)
			}
		}
	}
	for _, op := range operations(doc) {
		if op.RequestBody == nil {
			continue
		}
		md, err := bodyMessage(d, op)
		if err != nil {
			return err
		}
		for _, mt := range op.RequestBody.Value.Content {
			name := strings.TrimPrefix(mt.Schema.Ref, "#/components/schemas/")
			if mt.Schema.Ref == "" {
				// An inline body: the message minus its path parameters.
				// A PATCH body gets the named copy too.
				if op.method != http.MethodPatch {
					continue
				}
				name = schemaName(d, md)
			}
			if !responses[name] && op.method != http.MethodPatch {
				continue
			}
			copyName, err := requestCopy(doc, d, op, name, md, mt.Schema.Value.Description)
			if err != nil {
				return err
			}
			c := doc.Components.Schemas[copyName]
			mt.Schema = &openapi3.SchemaRef{Ref: "#/components/schemas/" + copyName, Value: c.Value}
		}
	}
	return nil
}

// requestCopy adds the request copy of schema name for op and returns its
// name.
func requestCopy(doc *openapi3.T, d *descriptors, op operation, name string, md protoreflect.MessageDescriptor, description string) (string, error) {
	var suffix string
	switch op.method {
	case http.MethodPost:
		suffix = "Create"
	case http.MethodPatch:
		suffix = "Update"
	default:
		return "", fmt.Errorf("%s %s: no request copy for a %s body of %s", op.method, op.OperationID, op.method, name)
	}
	src := doc.Components.Schemas[name]
	if src == nil {
		return "", fmt.Errorf("%s: no schema %s", op.OperationID, name)
	}
	copyName := name + suffix
	if doc.Components.Schemas[copyName] != nil {
		return copyName, nil
	}
	cp := *src.Value
	cp.Properties = maps.Clone(src.Value.Properties)
	if description != "" {
		cp.Description = description
	}
	cp.Required = nil
	if suffix == "Create" {
		cp.Required = requestRequired(md)
	}
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		p := cp.Properties[string(fd.Name())]
		if p == nil {
			continue
		}
		if p.Ref == "" && p.Value != nil && p.Value.Type.Is(openapi3.TypeObject) && p.Value.Properties != nil {
			return "", fmt.Errorf("%s: inline object %s.%s in a request copy", op.OperationID, name, fd.Name())
		}
		if p.Ref != "" && p.Value != nil && len(p.Value.Properties) > 0 {
			return "", fmt.Errorf("%s: %s.%s refers to object schema %s, shared with responses", op.OperationID, name, fd.Name(), p.Ref)
		}
		if suffix == "Update" && fd.Message() != nil && !isOutputOnly(fd) && !fd.IsList() && !fd.IsMap() {
			if p.Ref != "" {
				return "", fmt.Errorf("%s: nullable %s.%s is a reference", op.OperationID, name, fd.Name())
			}
			v := *p.Value
			v.Nullable = true
			cp.Properties[string(fd.Name())] = &openapi3.SchemaRef{Value: &v}
		}
	}
	doc.Components.Schemas[copyName] = &openapi3.SchemaRef{Value: &cp}
	return copyName, nil
}

// itemRequestCopies makes a request message that is an item of a batch
// body (BatchCreateTasksRequest.requests holds CreateTaskRequest) say what
// its own method accepts: the field that method takes as its body (the
// Task of CreateTask) refers to the request copy that method's body uses
// (v1TaskCreate), not to the response schema, so an item is checked as
// the single call's body is.
func itemRequestCopies(doc *openapi3.T, d *descriptors) error {
	responses := responseSchemas(doc)
	for _, op := range operations(doc) {
		if op.RequestBody == nil {
			continue
		}
		m, ok := d.methods[op.OperationID]
		if !ok {
			return fmt.Errorf("operation %s names no method", op.OperationID)
		}
		rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
		field := rule.GetBody()
		if field == "*" || field == "" {
			continue
		}
		item := doc.Components.Schemas[schemaName(d, m.Input())]
		if item == nil || item.Value == nil || responses[schemaName(d, m.Input())] {
			continue // not an item of any body, or also a response
		}
		for _, mt := range op.RequestBody.Value.Content {
			if item.Value.Properties[field] == nil || mt.Schema.Ref == "" {
				return fmt.Errorf("%s: item schema %s has no property %s, or the body no schema", op.OperationID, schemaName(d, m.Input()), field)
			}
			item.Value.Properties[field] = &openapi3.SchemaRef{Ref: mt.Schema.Ref, Value: mt.Schema.Value}
		}
	}
	return nil
}

// schemaName is the component schema name of md.
func schemaName(d *descriptors, md protoreflect.MessageDescriptor) string {
	for name, m := range d.schemas {
		if m == md {
			return name
		}
	}
	return string(md.Name())
}

// bodyMessage returns the message that op's request body holds: the field
// its google.api.http rule names as the body, or the whole request for "*".
func bodyMessage(d *descriptors, op operation) (protoreflect.MessageDescriptor, error) {
	m, ok := d.methods[op.OperationID]
	if !ok {
		return nil, fmt.Errorf("operation %s names no method", op.OperationID)
	}
	rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
	switch body := rule.GetBody(); body {
	case "":
		return nil, fmt.Errorf("%s has a request body but its http rule none", op.OperationID)
	case "*":
		return m.Input(), nil
	default:
		fd := m.Input().Fields().ByName(protoreflect.Name(body))
		if fd == nil || fd.Message() == nil {
			return nil, fmt.Errorf("%s: body %q is not a message field", op.OperationID, body)
		}
		return fd.Message(), nil
	}
}

// responseSchemas returns the component schemas that 2xx responses reach,
// directly or through other schemas.
func responseSchemas(doc *openapi3.T) map[string]bool {
	seen := map[string]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(s *openapi3.SchemaRef) {
		if s == nil {
			return
		}
		if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
			if seen[name] {
				return
			}
			seen[name] = true
			s = doc.Components.Schemas[name]
		}
		if s == nil || s.Value == nil {
			return
		}
		v := s.Value
		for _, name := range slices.Sorted(maps.Keys(v.Properties)) {
			walk(v.Properties[name])
		}
		walk(v.Items)
		for _, list := range []openapi3.SchemaRefs{v.AllOf, v.AnyOf, v.OneOf} {
			for _, x := range list {
				walk(x)
			}
		}
	}
	for _, op := range operations(doc) {
		for status, r := range op.Responses.Map() {
			if !strings.HasPrefix(status, "2") || r.Value == nil {
				continue
			}
			for _, mt := range r.Value.Content {
				// A server stream's response is an inline object of
				// "result" (the message) or, at its end, "error" (the
				// status, which is not a response schema to shape).
				if p := streamResult(mt.Schema); p != nil {
					walk(p)
					continue
				}
				walk(mt.Schema)
			}
		}
	}
	// Enum schemas have no fields; only message schemas matter.
	for name := range seen {
		if s := doc.Components.Schemas[name]; s == nil || len(s.Value.Enum) > 0 || !s.Value.Type.Is(openapi3.TypeObject) {
			delete(seen, name)
		}
	}
	return seen
}

// streamResult returns the "result" property of the inline response
// schema protoc-gen-openapiv2 writes for a server-streaming method, and
// nil for any other schema.
func streamResult(s *openapi3.SchemaRef) *openapi3.SchemaRef {
	if s == nil || s.Ref != "" || s.Value == nil || len(s.Value.Properties) != 2 || s.Value.Properties["error"] == nil {
		return nil
	}
	return s.Value.Properties["result"]
}

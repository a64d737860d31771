// Package openapi holds the OpenAPI (Swagger 2.0) document of the REST API,
// generated from the protos by protoc-gen-openapiv2 (`make generate`).
package openapi

import _ "embed"

// JSON is the merged OpenAPI document for every REST route of the user and
// task services.
//
//go:embed todo.swagger.json
var JSON []byte

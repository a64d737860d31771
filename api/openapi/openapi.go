// Package openapi holds the OpenAPI 3.0.3 document of the REST API,
// generated from the protos by protoc-gen-openapiv2 and api/openapigen
// (`make generate`).
package openapi

import _ "embed"

// JSON is the merged OpenAPI document for every REST route of the user and
// task services, as the gateway serves it at /openapi.json.
//
//go:embed openapi.json
var JSON []byte

// Package apidesc holds the descriptors of the todo API as `buf build` wrote
// them (`make generate`), with the proto comments that the generated Go code
// strips. Server reflection serves them, so `grpcurl describe` prints the
// documented services.
package apidesc

import (
	_ "embed"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

//go:embed todo.binpb
var image []byte

// Files returns the API's file descriptors, and those they import, with
// their source comments.
func Files() (*protoregistry.Files, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(image, &set); err != nil {
		return nil, fmt.Errorf("apidesc: decode descriptor set: %w", err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("apidesc: build registry: %w", err)
	}
	return files, nil
}

// Resolver looks descriptors up in the API's documented files first and in
// the program's linked-in registry (health, reflection, …) after.
type Resolver struct {
	api    *protoregistry.Files
	linked *protoregistry.Files
}

// NewResolver returns a Resolver over Files and protoregistry.GlobalFiles.
func NewResolver() (*Resolver, error) {
	files, err := Files()
	if err != nil {
		return nil, err
	}
	return &Resolver{api: files, linked: protoregistry.GlobalFiles}, nil
}

// FindFileByPath returns the file descriptor at path.
func (r *Resolver) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	fd, err := r.api.FindFileByPath(path)
	if errors.Is(err, protoregistry.NotFound) {
		return r.linked.FindFileByPath(path)
	}
	return fd, err
}

// FindDescriptorByName returns the descriptor with the full name name.
func (r *Resolver) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	d, err := r.api.FindDescriptorByName(name)
	if errors.Is(err, protoregistry.NotFound) {
		return r.linked.FindDescriptorByName(name)
	}
	return d, err
}

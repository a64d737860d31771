// Command printproto writes the .proto source of a file descriptor linked
// into this program from a pinned Go module, for protos whose source no
// module on the proxy ships (google/api/field_info.proto is compiled into
// google.golang.org/genproto/googleapis/api but its .proto is not in
// istio.io/api's common-protos).
//
//	printproto google/api/field_info.proto > third_party/proto/google/api/field_info.proto
package main

import (
	"fmt"
	"os"

	"github.com/jhump/protoreflect/v2/protoprint"
	_ "google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoregistry"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "printproto:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: printproto PATH.proto")
	}
	fd, err := protoregistry.GlobalFiles.FindFileByPath(args[0])
	if err != nil {
		return fmt.Errorf("find %s: %w", args[0], err)
	}
	p := protoprint.Printer{}
	if err := p.PrintProtoFile(fd, os.Stdout); err != nil {
		return fmt.Errorf("print %s: %w", args[0], err)
	}
	return nil
}

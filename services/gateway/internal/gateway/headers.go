package gateway

import (
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/todo-platform/todo/pkg/grpcerr"
)

// DefaultMaxHeaderBytes is Config.MaxHeaderBytes when it is zero: 64 KiB of
// request line and headers.
const DefaultMaxHeaderBytes = 64 << 10

// headerReadSlack is how far past the gateway's header limit the HTTP server
// itself reads (http.Server.MaxHeaderBytes): headers up to the limit plus
// this reach withHeaderLimit, which answers 431 in the JSON error shape;
// only beyond that does net/http answer its own plain-text 431 and close
// the connection.
const headerReadSlack = 4 << 20

// maxHeaderBytes is the header limit c asks for.
func (c Config) maxHeaderBytes() int {
	if c.MaxHeaderBytes == 0 {
		return DefaultMaxHeaderBytes
	}
	return c.MaxHeaderBytes
}

// ServerMaxHeaderBytes is the http.Server.MaxHeaderBytes to serve the
// handler with: the gateway's header limit plus 4 MiB, the outer bound up
// to which oversized headers get the JSON 431.
func (c Config) ServerMaxHeaderBytes() int { return c.maxHeaderBytes() + headerReadSlack }

// headerBytes is the size of r's request line and header fields as sent
// over HTTP/1.1 ("Name: value\r\n" each), which is what
// http.Server.MaxHeaderBytes bounds.
func headerBytes(r *http.Request) (total int, largest string, largestSize int) {
	total = len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	total += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n := len(k) + 2 + len(v) + 2
			total += n
			if n > largestSize {
				largest, largestSize = k, n
			}
		}
	}
	return total + 2, largest, largestSize
}

// withHeaderLimit answers requests whose request line and headers exceed
// limit bytes with 431 in the JSON error shape, naming the largest header.
func withHeaderLimit(next http.Handler, limit int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, largest, size := headerBytes(r); n > limit {
			msg := fmt.Sprintf("request headers of %d bytes are larger than the limit of %d bytes", n, limit)
			v := grpcerr.FieldViolation{Description: msg}
			if largest != "" {
				// The violation names the largest header, the one to cut.
				v.Field = displayKey(largest)
				v.Description = fmt.Sprintf("is the largest header (%d bytes); the request headers of %d bytes are larger than the limit of %d bytes", size, n, limit)
				msg = fmt.Sprintf("%s; the largest is %s", msg, v.Field)
			}
			writeStatus(w, http.StatusRequestHeaderFieldsTooLarge,
				withViolations(status.New(codes.ResourceExhausted, msg), v))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// noMetadata is the outgoing header and trailer matcher: no gRPC metadata
// of a service's answer (content-type, or anything a service sets) becomes
// an HTTP header or trailer; the REST API's headers are the gateway's own.
func noMetadata(string) (string, bool) { return "", false }

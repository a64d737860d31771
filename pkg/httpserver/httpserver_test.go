package httpserver_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/todo-platform/todo/pkg/httpserver"
	"github.com/todo-platform/todo/pkg/listen"
	"github.com/todo-platform/todo/pkg/testkit"
)

// server is a Serve running in the background.
type server struct {
	url    string
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// start serves h on lis with httpserver.Serve (or, when lis is nil, on
// addr with ListenAndServe) until stop is called or the test ends.
func start(t *testing.T, h http.Handler, lis net.Listener, addr string, shutdownTimeout time.Duration) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{cancel: cancel, done: make(chan error, 1)}
	srv := &http.Server{Handler: h, Addr: addr, ReadHeaderTimeout: 10 * time.Second}
	log := slog.New(slog.DiscardHandler)
	if lis != nil {
		s.addr = lis.Addr().String()
		go func() { s.done <- httpserver.Serve(ctx, log, srv, lis, shutdownTimeout) }()
	} else {
		s.addr = addr
		go func() { s.done <- httpserver.ListenAndServe(ctx, log, srv, shutdownTimeout) }()
	}
	s.url = "http://" + s.addr
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// stop ends the server's context and returns what Serve returned.
func (s *server) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-testkit.Context(t).Done():
		t.Fatal("Serve did not return after its context ended")
		return nil
	}
}

func loopback(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

func get(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// closeSignal is a listener that says when it is closed.
type closeSignal struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *closeSignal) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.closed) })
	return err
}

// refusing reports whether nothing accepts connections on addr any more.
func refusing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello "+r.URL.Path) })

// servesHelloThenStops fails the test unless s (serving hello) answers a
// GET, and, once stopped, returns nil and accepts no more connections.
func servesHelloThenStops(t *testing.T, s *server) {
	t.Helper()
	code, body, err := get(testkit.Context(t), s.url+"/x")
	if err != nil || code != http.StatusOK || body != "hello /x" {
		t.Fatalf("GET /x = %d %q, %v; want 200 %q", code, body, err, "hello /x")
	}
	if err := s.stop(t); err != nil {
		t.Errorf("Serve after its context ended = %v, want nil", err)
	}
	if !refusing(s.addr) {
		t.Error("still accepting connections after Serve returned")
	}
}

func TestServe_ServesUntilTheContextEnds(t *testing.T) {
	t.Parallel()
	servesHelloThenStops(t, start(t, hello, loopback(t), "", time.Minute))
}

func TestServe_InFlightRequestFinishesWithinTheTimeout(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		fmt.Fprint(w, "finished")
	})
	lis := &closeSignal{Listener: loopback(t), closed: make(chan struct{})}
	s := start(t, h, lis, "", time.Minute)
	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		code, body, err := get(testkit.Context(t), s.url)
		res <- result{code, body, err}
	}()
	<-entered

	stopped := make(chan error, 1)
	go func() { s.cancel(); stopped <- <-s.done; s.done <- nil }()
	// Shutting down: no new connections, the request still waits.
	select {
	case <-lis.closed:
	case <-testkit.Context(t).Done():
		t.Fatal("the listener was not closed after the context ended")
	}
	if !refusing(s.addr) {
		t.Error("accepting connections while shutting down")
	}
	select {
	case r := <-res:
		t.Fatalf("the request ended before it was released: %+v", r)
	case err := <-stopped:
		t.Fatalf("Serve returned before the request finished: %v", err)
	default:
	}
	close(release)

	r := <-res
	if r.err != nil || r.code != http.StatusOK || r.body != "finished" {
		t.Errorf("in-flight request = %d %q, %v; want 200 %q", r.code, r.body, r.err, "finished")
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestServe_TimeoutClosesRequestsStillRunning(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // until its connection is closed
	})
	s := start(t, h, loopback(t), "", 100*time.Millisecond)
	res := make(chan error, 1)
	go func() {
		_, _, err := get(testkit.Context(t), s.url)
		res <- err
	}()
	<-entered
	if err := s.stop(t); err != nil {
		t.Errorf("Serve after a forced close = %v, want nil", err)
	}
	if err := <-res; err == nil {
		t.Error("the request still running at the timeout succeeded, want its connection closed")
	}
}

// TestListenAndServe_InheritedSocket listens on "fd:N", the form the test
// harness and socket activation use.
func TestListenAndServe_InheritedSocket(t *testing.T) {
	t.Parallel()
	lis := loopback(t)
	addr := lis.Addr().String()
	f, err := listen.File(lis)
	lis.Close()
	if err != nil {
		t.Fatal(err)
	}
	// A descriptor no *os.File owns: ListenAndServe takes it over.
	fd, err := syscall.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, hello, nil, fmt.Sprintf("fd:%d", fd), time.Minute)
	s.addr, s.url = addr, "http://"+addr
	servesHelloThenStops(t, s)
}

func TestListenAndServe_BadAddress(t *testing.T) {
	t.Parallel()
	err := httpserver.ListenAndServe(testkit.Context(t), slog.New(slog.DiscardHandler), &http.Server{Addr: "fd:x", ReadHeaderTimeout: time.Second}, time.Second)
	if err == nil {
		t.Fatal("ListenAndServe(fd:x) = nil, want an error")
	}
}

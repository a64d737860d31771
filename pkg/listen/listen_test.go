package listen_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/todo-platform/todo/pkg/listen"
)

// TestMain makes the test binary double as a child that listens on an
// inherited socket and answers one connection.
func TestMain(m *testing.M) {
	if addr := os.Getenv("LISTEN_TEST_CHILD"); addr != "" {
		lis, err := listen.Listen(context.Background(), addr)
		if err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(2)
		}
		c, err := lis.Accept()
		if err != nil {
			os.Exit(3)
		}
		_, _ = c.Write([]byte("hello from the child\n"))
		_ = c.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestListen_InheritedDescriptorServesOnTheParentsPort(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	f, err := listen.File(lis)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LISTEN_TEST_CHILD=fd:3")
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	lis.Close() // only the child's copy is left
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	c.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if got := string(buf[:n]); !strings.Contains(got, "hello from the child") {
		t.Errorf("read %q from the parent's port", got)
	}
}

func TestListen_RefusesBadDescriptors(t *testing.T) {
	for _, addr := range []string{"fd:", "fd:x", "fd:1", "fd:999"} {
		if lis, err := listen.Listen(t.Context(), addr); err == nil {
			lis.Close()
			t.Errorf("Listen(%q) = nil error", addr)
		}
	}
}

// Package listen opens the servers' listening sockets from their configured
// addresses: a TCP address such as ":50051" or "127.0.0.1:0", or "fd:N", a
// listening TCP socket the process inherited as file descriptor N (as with
// socket activation). The test harness uses "fd:N" to start a server on a
// port it has already bound, so that no other process can take the port in
// between.
package listen

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// fdPrefix marks an inherited file descriptor.
const fdPrefix = "fd:"

// Listen returns a listener for addr (see the package comment).
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	if n, ok := strings.CutPrefix(addr, fdPrefix); ok {
		fd, err := strconv.Atoi(n)
		if err != nil || fd < 3 {
			return nil, fmt.Errorf("listen %q: want fd:N with N a file descriptor of 3 or more", addr)
		}
		f := os.NewFile(uintptr(fd), "listener-fd-"+n)
		if f == nil {
			return nil, fmt.Errorf("listen %q: no such file descriptor", addr)
		}
		defer f.Close() // FileListener dups it
		lis, err := net.FileListener(f)
		if err != nil {
			return nil, fmt.Errorf("listen %q: %w", addr, err)
		}
		return lis, nil
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", addr, err)
	}
	return lis, nil
}

// File returns a duplicate of lis's socket, for passing to a child process
// (exec.Cmd.ExtraFiles) that listens on it with "fd:N". lis must be a TCP
// listener; closing the file does not close lis.
func File(lis net.Listener) (*os.File, error) {
	tl, ok := lis.(*net.TCPListener)
	if !ok {
		return nil, fmt.Errorf("listen: %T is not a TCP listener", lis)
	}
	f, err := tl.File()
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return f, nil
}

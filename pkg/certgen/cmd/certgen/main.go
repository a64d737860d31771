// Command certgen writes a local CA and the certificates `RUN_TLS=1 make
// run` serves every hop with, into the directory it is given (created with
// mode 0700): ca.crt; server.crt and server.key for localhost, 127.0.0.1
// and ::1 (the three servers share it); client.crt and client.key, the
// internal clients' certificate for mutual TLS (common name todo-internal).
// Files already there are kept, so the CA stays the one clients trust.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/todo-platform/todo/pkg/certgen"
)

// ClientName is the identity of the internal clients' certificate.
const ClientName = "todo-internal"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "certgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: certgen DIR")
	}
	dir := args[0]
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "client.key")); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	ca, err := certgen.NewCA("todo local CA")
	if err != nil {
		return err
	}
	server, err := ca.Server("localhost", "127.0.0.1", "::1")
	if err != nil {
		return err
	}
	client, err := ca.Client(ClientName)
	if err != nil {
		return err
	}
	if _, err := ca.WriteCA(dir, "ca"); err != nil {
		return err
	}
	if _, _, err := server.Write(dir, "server"); err != nil {
		return err
	}
	// client.key last: its presence means the set is complete.
	if _, _, err := client.Write(dir, "client"); err != nil {
		return err
	}
	return nil
}

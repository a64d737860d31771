// Package testkit holds the small helpers the tests of every module share.
package testkit

import (
	"context"
	"testing"
	"time"
)

// Timeout bounds one test's calls made with Context.
const Timeout = time.Minute

// Context returns a context that ends when the test ends or after Timeout,
// whichever comes first, so that a hung call fails the test instead of
// hanging the run.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

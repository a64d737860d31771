// Package dberr names the database failures that are no statement's fault,
// so that code above the stores (each service's error mapping, through
// grpcerr.Fallback) can tell them apart without depending on the database
// driver. Package pgdb returns them wrapped, with the PostgreSQL error still
// in the chain.
package dberr

import "errors"

var (
	// ErrUnavailable: the database could not be reached, or the connection
	// failed and the statements could not be (or were not) sent again.
	ErrUnavailable = errors.New("database unavailable")
	// ErrStatementTimeout: the server cancelled a statement that ran longer
	// than the transaction's statement_timeout (SQLSTATE 57014).
	ErrStatementTimeout = errors.New("statement timeout")
	// ErrSerialization: the transaction lost a serialization or deadlock
	// conflict (SQLSTATE 40001, 40P01) and may be retried as a whole.
	ErrSerialization = errors.New("serialization failure")
)

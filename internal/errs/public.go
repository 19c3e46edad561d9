package errs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
)

// What people may read of an error. Every message that reaches a client (an
// HTTP answer, a WebSocket greeting or close, an outcome line or message, a
// session's message, a probe's detail, an agent's refusal) is built by
// Public, Readable or package httperr (which uses Readable), never from
// err.Error() directly. The rule:
//
//   - an *Error in err's chain with a code other than Internal: err's whole
//     text (the short noun phrases our code wraps it in, and the message
//     written for people);
//   - otherwise PostgreSQL's own error (a *pgconn.PgError in the chain,
//     typically a target refusing a statement the admin must see):
//     err's whole text, severity, message and SQLSTATE included; but when
//     the chain also holds a *pgconn.ConnectError (whose text names the
//     host, user and database it tried) only the PgError's own text;
//   - anything else (a Go, I/O or store error, a bug, errs.Internal):
//     nothing. Public logs it at error level with a new id and shows
//     "internal error (id …)", the same words httperr answers with.
//
// An HTTP answer (httperr) shows only the first case: at the HTTP edge a
// raw PostgreSQL error is stile's own store's, not a target's.

// Readable returns err's text and true when err carries a people-facing
// code (an *Error in its chain other than Internal), else "" and false.
func Readable(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	if CodeOf(err) == Internal {
		return "", false
	}
	return err.Error(), true
}

// Postgres returns what may be read of PostgreSQL's own error in err's
// chain (see the rule above) and true, or "" and false if it holds none.
//
// errs names no driver (the planner and spec import it, and must reach no
// I/O: plan's TestPlannerReachesNoIO): PostgreSQL's error is the one in the
// chain with a SQLSTATE (pgx's *pgconn.PgError), and a failed connection
// pgx's *pgconn.ConnectError, known by its type's name (TestPublicConnectError
// checks it against a real refusal).
func Postgres(err error) (string, bool) {
	pgErr, ok := errors.AsType[interface {
		error
		SQLState() string
	}](err)
	if !ok {
		return "", false
	}
	if inChain(err, func(e error) bool { return fmt.Sprintf("%T", e) == "*pgconn.ConnectError" }) {
		return pgErr.Error(), true
	}
	return err.Error(), true
}

// inChain reports whether f holds for err or any error it wraps (one or
// several, as errors.As walks them).
func inChain(err error, f func(error) bool) bool {
	if err == nil {
		return false
	}
	if f(err) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return inChain(u.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if inChain(e, f) {
				return true
			}
		}
	}
	return false
}

// Public returns what a person may read of err (see the rule above): the
// text of a people-facing error or of PostgreSQL's own, else "internal
// error (id …)" with err's full text logged on log (slog.Default if nil)
// under that id. attrs are added to the log line. Public(nil) is "".
func Public(log *slog.Logger, err error, attrs ...any) string {
	if err == nil {
		return ""
	}
	if msg, ok := Readable(err); ok {
		return msg
	}
	if msg, ok := Postgres(err); ok {
		return msg
	}
	return Hide(log, err, attrs...)
}

// Hide logs err on log (slog.Default if nil) at error level under a new
// random id, with attrs, and returns the only words a client sees of it:
// "internal error (id …)".
func Hide(log *slog.Logger, err error, attrs ...any) string {
	if log == nil {
		log = slog.Default()
	}
	id := newID()
	log.Log(context.Background(), slog.LevelError, "internal error", append([]any{"error_id", id, "err", err}, attrs...)...)
	return "internal error (id " + id + ")"
}

// newID returns 8 random hex digits: enough to find one error in the log,
// too short to be mistaken for a secret.
func newID() string {
	b := make([]byte, 4)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

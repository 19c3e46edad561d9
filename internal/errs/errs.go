// Package errs defines stile's one domain error type. Every layer returns
// *Error (or wraps one) for failures a person must act on; only the HTTP
// layer (package httperr) maps codes to statuses.
package errs

import (
	"errors"
	"fmt"
)

// Code classifies an Error.
type Code string

// Error codes.
const (
	Invalid      Code = "invalid"      // bad input; nothing was changed
	NotFound     Code = "not_found"    // a named thing does not exist
	Conflict     Code = "conflict"     // the request clashes with stored state
	Drift        Code = "drift"        // the live cluster changed since the plan
	Unauthorized Code = "unauthorized" // missing or wrong credentials
	Forbidden    Code = "forbidden"    // known caller, not allowed
	Unavailable  Code = "unavailable"  // a target database or agent cannot be reached
	Failed       Code = "failed"       // the target refused the work
	Internal     Code = "internal"     // a bug or an unexpected fault
)

// Error is a failure with a code and a message meant for people.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// New returns an *Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalidf is New(Invalid, …).
func Invalidf(format string, args ...any) *Error { return New(Invalid, format, args...) }

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

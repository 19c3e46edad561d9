// Package httperr is the one path from an error to what an HTTP client
// sees: the status its code maps to and a message for people. The JSON API
// writes the answer as its error body and the web app as a page, so both
// answer the same way; internal detail goes to the log under an id, never
// to the client.
package httperr

import (
	"log/slog"
	"net/http"

	"github.com/stile-dev/stile/internal/errs"
)

// Status returns the HTTP status for code. It is the one place codes map
// to statuses; errs.Internal and any code it does not know are 500.
func Status(code errs.Code) int {
	switch code {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict, errs.Drift:
		return http.StatusConflict
	case errs.Unauthorized:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	case errs.Failed:
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

// Answer is what a client may see of an error.
type Answer struct {
	Status  int
	Code    errs.Code
	Message string
}

// Of returns the answer to a request that failed with err. An error with a
// people-facing code (an *errs.Error in its chain, other than errs.Internal)
// shows its text (errs.Readable). Any other error (a store, SQL or I/O
// error, or errs.Internal) is internal: Of logs it on log at error level
// with a new random id and its full text (errs.Hide), and the client sees
// only "internal error (id …)". r may be nil; it only adds the method and
// path to the log.
func Of(log *slog.Logger, r *http.Request, err error) Answer {
	if msg, ok := errs.Readable(err); ok {
		code := errs.CodeOf(err)
		return Answer{Status: Status(code), Code: code, Message: msg}
	}
	var attrs []any
	if r != nil {
		attrs = append(attrs, "method", r.Method, "path", r.URL.Path)
	}
	return Answer{Status: Status(errs.Internal), Code: errs.Internal, Message: errs.Hide(log, err, attrs...)}
}

package api

import "github.com/stile-dev/stile/internal/errs"

// Error is what a client sees of an error: its code and message. Every
// error response is {"error": Error, "detail"?}, and a streamed line that
// failed carries one too.
type Error struct {
	Code    errs.Code `json:"code"`
	Message string    `json:"message"`
}

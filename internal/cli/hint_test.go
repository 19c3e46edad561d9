package cli

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/stile-dev/stile/internal/errs"
)

// TestHintsByCode: the hint after an error follows what the error is, never
// its text.
func TestHintsByCode(t *testing.T) {
	refused := fmt.Errorf("reach stile server at http://127.0.0.1:1: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	for _, tt := range []struct {
		err  error
		want string
	}{
		{refused, "start the server with: stile server"},
		{&apiError{Code: errs.Unauthorized, Message: "whatever"}, "set STILE_TOKEN or pass --token-file (the server wrote the admin token to its data dir's admin.token)"},
		{errs.New(errs.Unauthorized, "no API token"), "set STILE_TOKEN or pass --token-file (the server wrote the admin token to its data dir's admin.token)"},
		{&apiError{Code: errs.Drift, Message: "x"}, "make a new plan, review it, and apply its sid"},
		{errs.Invalidf("missing or wrong API token; changed since the plan"), ""},
	} {
		if got := hintFor(tt.err); got != tt.want {
			t.Errorf("hintFor(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

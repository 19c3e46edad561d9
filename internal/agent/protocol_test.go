package agent

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/errs"
)

// TestToWire: what crosses from an agent to the server keeps what people
// may read: a coded error as it is, PostgreSQL's own error as errs.Failed
// (the server shows it, as it would a local agent's), anything else whole
// as errs.Internal (the server logs it and shows an id).
func TestToWire(t *testing.T) {
	pgErr := &pgconn.PgError{Severity: "ERROR", Code: "42501", Message: "permission denied for table t"}
	for _, c := range []struct {
		err  error
		want WireError
	}{
		{errs.New(errs.Drift, "the cluster changed"), WireError{errs.Drift, "the cluster changed"}},
		{fmt.Errorf("inspect memberships: %w", pgErr), WireError{errs.Failed, "inspect memberships: ERROR: permission denied for table t (SQLSTATE 42501)"}},
		{fmt.Errorf("decode job: %w", errors.New("unexpected EOF")), WireError{errs.Internal, "decode job: unexpected EOF"}},
	} {
		got := ToWire(c.err)
		if *got != c.want {
			t.Errorf("ToWire(%v) = %+v, want %+v", c.err, *got, c.want)
		}
		if msg, _ := errs.Readable(got.Err()); c.want.Code != errs.Internal && msg != c.want.Message {
			t.Errorf("the server reads %q of %v", msg, c.err)
		}
	}
	if ToWire(nil) != nil {
		t.Error("ToWire(nil) is not nil")
	}
}

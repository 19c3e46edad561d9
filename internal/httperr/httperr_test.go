package httperr

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/errs"
)

// statuses is the whole mapping: every errs code and its status.
var statuses = map[errs.Code]int{
	errs.Invalid:      http.StatusBadRequest,
	errs.NotFound:     http.StatusNotFound,
	errs.Conflict:     http.StatusConflict,
	errs.Drift:        http.StatusConflict,
	errs.Unauthorized: http.StatusUnauthorized,
	errs.Forbidden:    http.StatusForbidden,
	errs.Unavailable:  http.StatusServiceUnavailable,
	errs.Failed:       http.StatusUnprocessableEntity,
	errs.Internal:     http.StatusInternalServerError,
}

func TestStatus(t *testing.T) {
	for code, want := range statuses {
		if got := Status(code); got != want {
			t.Errorf("Status(%s) = %d, want %d", code, got, want)
		}
	}
	if got := Status("no-such-code"); got != http.StatusInternalServerError {
		t.Errorf("Status of an unknown code = %d, want 500", got)
	}
}

// TestStatusCoversEveryCode reads the codes declared in package errs, so a
// new code cannot go unmapped (it would answer 500) without this failing.
func TestStatusCoversEveryCode(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../errs/errs.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, val := range v.Values {
				lit, _ := strconv.Unquote(val.(*ast.BasicLit).Value)
				n++
				if _, ok := statuses[errs.Code(lit)]; !ok {
					t.Errorf("errs code %q has no status in this test's table", lit)
				}
			}
		}
	}
	if n != len(statuses) {
		t.Errorf("errs declares %d codes, the table has %d", n, len(statuses))
	}
}

func TestOf(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := httptest.NewRequest("GET", "/sessions/x", nil)

	// A people-facing error shows its text, wrapping included, and is not
	// logged as an internal error.
	a := Of(log, r, fmt.Errorf("show session: %w", errs.New(errs.NotFound, "session x does not exist")))
	if a != (Answer{Status: 404, Code: errs.NotFound, Message: "show session: session x does not exist"}) {
		t.Errorf("not found: %+v", a)
	}
	if logs.Len() != 0 {
		t.Errorf("a people-facing error was logged: %s", logs.String())
	}

	// Internal errors, coded or not, show only an id that the log has
	// with the full text.
	idRE := regexp.MustCompile(`^internal error \(id ([0-9a-f]{8})\)$`)
	seen := map[string]bool{}
	for _, err := range []error{
		fmt.Errorf("list sessions: %w", errors.New("sql: database is closed")),
		errs.New(errs.Internal, "sql: database is closed"),
	} {
		logs.Reset()
		a := Of(log, r, err)
		m := idRE.FindStringSubmatch(a.Message)
		if a.Status != 500 || a.Code != errs.Internal || m == nil {
			t.Fatalf("%v: %+v", err, a)
		}
		if strings.Contains(a.Message, "database") {
			t.Errorf("internal text reached the client: %q", a.Message)
		}
		line := logs.String()
		if !strings.Contains(line, "error_id="+m[1]) || !strings.Contains(line, "sql: database is closed") || !strings.Contains(line, "path=/sessions/x") {
			t.Errorf("log lacks the id, the text or the path: %s", line)
		}
		if seen[m[1]] {
			t.Errorf("id %s used twice", m[1])
		}
		seen[m[1]] = true
	}
	if a := Of(log, nil, errors.New("boom")); a.Status != 500 {
		t.Errorf("without a request: %+v", a)
	}
}

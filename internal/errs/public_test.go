package errs

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestPublic: the rule for what a person may read of an error, case by
// case; hidden text goes to the log under the id the person sees.
func TestPublic(t *testing.T) {
	pgErr := &pgconn.PgError{Severity: "ERROR", Code: "42501", Message: "permission denied for table t"}
	for _, c := range []struct {
		name string
		err  error
		want string // "" for hidden
	}{
		{"coded", fmt.Errorf("show session: %w", New(NotFound, "session x does not exist")), "show session: session x does not exist"},
		{"postgres", fmt.Errorf("apply block b1: %w", pgErr), "apply block b1: ERROR: permission denied for table t (SQLSTATE 42501)"},
		{"go error", fmt.Errorf("read /etc/stile/key: %w", errors.New("permission denied")), ""},
		{"internal code", New(Internal, "sql: database is closed"), ""},
	} {
		var logs bytes.Buffer
		got := Public(slog.New(slog.NewTextHandler(&logs, nil)), c.err, "resource", "r1")
		if c.want != "" {
			if got != c.want || logs.Len() != 0 {
				t.Errorf("%s: Public = %q (log %q), want %q unlogged", c.name, got, logs.String(), c.want)
			}
			continue
		}
		m := regexp.MustCompile(`^internal error \(id ([0-9a-f]{8})\)$`).FindStringSubmatch(got)
		if m == nil {
			t.Errorf("%s: Public = %q, want only an id", c.name, got)
			continue
		}
		line := logs.String()
		if !strings.Contains(line, "error_id="+m[1]) || !strings.Contains(line, c.err.Error()) || !strings.Contains(line, "resource=r1") {
			t.Errorf("%s: the log lacks the id, the text or the attrs: %s", c.name, line)
		}
	}
	if got := Public(nil, nil); got != "" {
		t.Errorf("Public(nil) = %q", got)
	}
}

// TestPublicConnectError: PostgreSQL refusing a connection is readable,
// but not the connection's parameters pgx wraps around its answer. It needs
// a real server (the first of STILE_TEST_PG_URLS) to refuse a password.
func TestPublicConnectError(t *testing.T) {
	urls := strings.Fields(strings.ReplaceAll(os.Getenv("STILE_TEST_PG_URLS"), ",", " "))
	if len(urls) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("STILE_TEST_PG_URLS is not set")
		}
		t.Skip("STILE_TEST_PG_URLS is not set")
	}
	_, url, _ := strings.Cut(urls[0], "=")
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password, cfg.Database = "stile_no_such_user_9f3", "hunter2", "no_such_db_9f3"
	conn, err := pgconn.ConnectConfig(t.Context(), cfg)
	if err == nil {
		conn.Close(t.Context())
		t.Fatal("a made-up user connected")
	}
	err = fmt.Errorf("connect to database %q: %w", "no_such_db_9f3", err)
	got := Public(nil, err)
	if !strings.Contains(got, "SQLSTATE 28") {
		t.Errorf("Public = %q, want PostgreSQL's refusal (%v)", got, err)
	}
	for _, leak := range []string{"hunter2", cfg.Host, "no_such_db_9f3"} {
		if strings.Contains(got, leak) {
			t.Errorf("Public = %q: the connection's %q reached it", got, leak)
		}
	}
}

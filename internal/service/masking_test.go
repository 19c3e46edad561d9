package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/audit"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/mask"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// TestMaskingThroughTheListener: a role's results are masked on the wire,
// with real PostgreSQL and pgx: a column rule (partial), content detectors
// (an email inside JSON, a card, an expression over the masked column), in
// the simple protocol and the extended one (binary text, and a statement
// the driver runs again without Describe); a masked column asked for in a
// binary form that is not text fails with 42501, and so does COPY TO
// STDOUT. The session counts what each rule masked, never the values.
func TestMaskingThroughTheListener(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	db := p + "_shop"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	c.Exec(t, db, `CREATE TABLE public.customers (id int, name text, email text, card text, note jsonb)`,
		`INSERT INTO public.customers VALUES (1, 'Ada', 'ada@example.com', '4111 1111 1111 1111', '{"contact": "ada@example.com"}')`)
	svc := serviceWithResource(t, p, c.Target())
	svc.SignIn.adminToken = "admin-token"
	// Everything the server logs and exports, to look for the values in.
	var logs lockedBuffer
	svc.Reporting.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	events := filepath.Join(t.TempDir(), "audit.jsonl")
	exporter, err := audit.New(audit.Config{File: events})
	if err != nil {
		t.Fatal(err)
	}
	svc.Reporting.audit = exporter
	ctx := context.Background()
	role := applyRole(t, svc, spec.Role{Resource: p, Label: "ro", Scopes: []string{db}, Privileges: []string{"SELECT"}})
	for _, r := range []mask.Rule{
		{ID: "mail", Column: db + ".public.customers.email", Style: mask.Partial},
		{ID: "ids", Column: "*.*.customers.id", Style: mask.Hash},
		{ID: "cards", Detector: "card", Style: mask.Partial},
		{ID: "emails", Detector: "email", Style: mask.Redact},
	} {
		if _, err := svc.Masking.AddMaskRule(ctx, Principal{User: "admin", Admin: true}, role, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Masking.AddMaskRule(ctx, Principal{User: "admin", Admin: true}, role, mask.Rule{Column: "nope", Style: mask.Redact}); err == nil {
		t.Error("a bad rule was taken")
	}

	ln := serveListener(t, svc)
	url := fmt.Sprintf("postgres://%s:admin-token@%s/%s?sslmode=disable", role, ln, db)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}

	row := func(mode pgx.QueryExecMode, q string) []string {
		t.Helper()
		var vals []string
		rows, err := conn.Query(ctx, q, mode)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			for _, v := range rows.RawValues() {
				vals = append(vals, string(v))
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return vals
	}
	want := []string{"Ada", "a**@e******.com", "**** **** **** 1111"}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeDescribeExec} {
		got := row(mode, "SELECT name, email, card FROM public.customers")
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%v: %q, want %q", mode, got, want)
		}
	}
	if got := row(pgx.QueryExecModeSimpleProtocol, "SELECT note FROM public.customers"); got[0] != `{"contact": "****"}` {
		t.Errorf("an email inside JSON: %q", got)
	}
	if got := row(pgx.QueryExecModeCacheStatement, "SELECT note FROM public.customers"); !strings.HasSuffix(got[0], `{"contact": "****"}`) {
		t.Errorf("an email inside binary jsonb: %q", got)
	}
	if got := row(pgx.QueryExecModeCacheStatement, "SELECT lower(email) FROM public.customers"); got[0] != "****" {
		t.Errorf("an expression over the masked column: %q", got)
	}
	if got := row(pgx.QueryExecModeSimpleProtocol, "SELECT id FROM public.customers"); !strings.HasPrefix(got[0], "h:") {
		t.Errorf("the hashed id in text: %q", got)
	}
	var pgErr *pgconn.PgError
	rows, _ := conn.Query(ctx, "SELECT id FROM public.customers")
	rows.Close()
	if err := rows.Err(); !errors.As(err, &pgErr) || pgErr.Code != "42501" || !strings.Contains(pgErr.Message, "binary format") {
		t.Errorf("the masked int column in binary: %v", rows.Err())
	}
	if _, err := conn.PgConn().CopyTo(ctx, io.Discard, "COPY public.customers TO STDOUT"); !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("COPY TO STDOUT: %v", err)
	}
	if got := row(pgx.QueryExecModeCacheStatement, "SELECT 1"); got == nil {
		t.Error("the connection did not survive the refusals")
	}
	conn.Close(ctx)

	var sess store.Session
	for i := 0; ; i++ {
		list, _ := svc.Reporting.Sessions(ctx, Admin, store.SessionFilter{Kind: KindConnect})
		if len(list) > 0 && list[0].Status == "ok" {
			sess = list[0]
			break
		}
		if i > 100 {
			t.Fatal("the connection's session never finished")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, w := range []string{"masked:", "rule mail: ", "rule cards: ", "rule emails: "} {
		if !strings.Contains(sess.Output, w) {
			t.Errorf("the session's output lacks %q:\n%s", w, sess.Output)
		}
	}
	exporter.Close()
	exported, err := os.ReadFile(events)
	if err != nil || !strings.Contains(string(exported), `"kind":"connect"`) {
		t.Fatalf("the audit file: %v\n%s", err, exported)
	}
	for _, secret := range []string{"ada@example.com", "4111 1111 1111 1111"} {
		for where, text := range map[string]string{"the session": sess.Output + sess.Input + sess.Message, "the log": logs.String(), "the audit events": string(exported)} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds a masked value %q", where, secret)
			}
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the writers of a log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStrictMasking: a strict column rule reaches the role's next plan,
// whose apply leaves PostgreSQL refusing the column to the role itself
// (42501 from the server, through the listener, with no proxy rule to
// mask it); an apply whose plan predates a strict rule's change is refused;
// a strict rule on a role with no SELECT is refused.
func TestStrictMasking(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	db := p + "_shop"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	c.Exec(t, db, `CREATE TABLE public.customers (id int, name text, email text)`,
		`INSERT INTO public.customers VALUES (1, 'Ada', 'ada@example.com')`)
	svc := serviceWithResource(t, p, c.Target())
	svc.SignIn.adminToken = "admin-token"
	ctx := context.Background()
	ro := spec.Role{Resource: p, Label: "ro", Scopes: []string{db}, Privileges: []string{"SELECT"}}
	role := applyRole(t, svc, ro)
	writer := applyRole(t, svc, spec.Role{Resource: p, Label: "w", Scopes: []string{db}, Privileges: []string{"INSERT"}})
	if _, err := svc.Masking.AddMaskRule(ctx, Principal{User: "admin", Admin: true}, writer, mask.Rule{Column: "*.*.*.email", Style: mask.Redact, Strict: true}); !errs.Is(err, errs.Invalid) {
		t.Errorf("a strict rule on a role without SELECT: %v", err)
	}
	if _, err := svc.Masking.AddMaskRule(ctx, Principal{User: "admin", Admin: true}, role, mask.Rule{Column: "*.*.customers.email", Style: mask.Redact, Strict: true}); err != nil {
		t.Fatal(err)
	}
	out, err := svc.Provisioning.Plan(ctx, Principal{User: "admin", Admin: true}, []spec.Role{ro})
	if err != nil {
		t.Fatal(err)
	}
	doc := out[0].Document
	if out[0].Status != "out-of-sync" || !strings.Contains(doc.SQLPlan, `GRANT SELECT ("id", "name") ON TABLE "public"."customers"`) || len(doc.Config.StrictColumns) != 1 {
		t.Fatalf("plan after a strict rule: %s\n%s", out[0].Status, doc.SQLPlan)
	}
	// A second strict rule after the plan: its apply is refused.
	second, err := svc.Masking.AddMaskRule(ctx, Principal{User: "admin", Admin: true}, role, mask.Rule{Column: "*.*.*.ssn", Style: mask.Redact, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Provisioning.Apply(ctx, Principal{User: "admin", Admin: true}, p, out[0].SID); !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "plan again") {
		t.Fatalf("apply of a plan older than a strict rule: %v", err)
	}
	if err := svc.Masking.RemoveMaskRule(ctx, Principal{User: "admin", Admin: true}, role, second.ID); err != nil {
		t.Fatal(err)
	}
	applyRole(t, svc, ro)
	if out, err := svc.Provisioning.PlanDeclared(ctx, Principal{User: "admin", Admin: true}, []string{p}, nil); err != nil || out[0].Status != "in-sync" {
		t.Fatalf("declared roles after the apply: %v %+v", err, out)
	}

	ln := serveListener(t, svc)
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:admin-token@%s/%s?sslmode=disable", role, ln, db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var name string
	if err := conn.QueryRow(ctx, "SELECT name FROM customers").Scan(&name); err != nil || name != "Ada" {
		t.Errorf("an allowed column: %q, %v", name, err)
	}
	for _, q := range []string{"SELECT email FROM customers", "SELECT * FROM customers", "SELECT lower(email) FROM customers"} {
		_, err := conn.Exec(ctx, q)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" || !strings.Contains(pgErr.Message, "permission denied") {
			t.Errorf("%s: %v, want PostgreSQL's own permission denied", q, err)
		}
	}
}

// TestMaskingFollowsRenames: a column renamed through stile to a name a
// rule masks is masked at once, not after the column cache's minute: on the
// connection that renamed it, and on another one that knew it by its old
// name.
func TestMaskingFollowsRenames(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	db := p + "_ren"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	svc := serviceWithResource(t, p, c.Target())
	svc.SignIn.adminToken = "admin-token"
	ctx := context.Background()
	role := applyRole(t, svc, spec.Role{Resource: p, Label: "dev", Scopes: []string{db + ".public"}, Privileges: []string{"SELECT", "CREATE"}})
	if _, err := svc.Masking.AddMaskRule(ctx, Principal{User: "admin", Admin: true}, role, mask.Rule{Column: "*.*.*.email", Style: mask.Redact}); err != nil {
		t.Fatal(err)
	}
	ln := serveListener(t, svc)
	open := func() *pgx.Conn {
		conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:admin-token@%s/%s?sslmode=disable", role, ln, db))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		return conn
	}
	a, b := open(), open()
	value := func(conn *pgx.Conn, q string) string {
		t.Helper()
		var v string
		if err := conn.QueryRow(ctx, q, pgx.QueryExecModeSimpleProtocol).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v
	}
	exec := func(conn *pgx.Conn, q string) {
		t.Helper()
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(a, "CREATE TABLE public.people (id int, note text, info text)")
	exec(a, "INSERT INTO public.people VALUES (1, 'ada@example.com', 'bob@example.com')")
	if v := value(a, "SELECT note FROM people"); v != "ada@example.com" {
		t.Fatalf("note before the rename = %q", v)
	}
	exec(a, "ALTER TABLE people RENAME COLUMN note TO email")
	if v := value(a, "SELECT email FROM people"); v != "****" {
		t.Errorf("email on the connection that renamed it = %q, want ****", v)
	}
	// Another connection that knew the column by its old name: the
	// rename (in a transaction, which holds the table locked until it
	// commits) is seen there too.
	if v := value(b, "SELECT info FROM people"); v != "bob@example.com" {
		t.Fatalf("info before the rename = %q", v)
	}
	exec(a, "BEGIN")
	exec(a, "ALTER TABLE people RENAME COLUMN email TO old_email")
	exec(a, "ALTER TABLE people RENAME COLUMN info TO email")
	exec(a, "COMMIT")
	if v := value(b, "SELECT email FROM people"); v != "****" {
		t.Errorf("email on another connection after the commit = %q, want ****", v)
	}
}

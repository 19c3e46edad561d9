package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// TestGuardrailsThroughTheListener: with guardrails, each kind of statement
// listed is refused with 42501 (simple and extended protocol, a transaction
// going on after), the same statement with a WHERE runs, and a read-only
// role's writes are refused by PostgreSQL itself while undoing read-only is
// refused by stile. The session lists what was refused.
func TestGuardrailsThroughTheListener(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	db := p + "_ops"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	c.Exec(t, db, `CREATE TABLE public.jobs (id int, state text)`, `INSERT INTO public.jobs VALUES (1, 'new'), (2, 'new')`)
	svc := serviceWithResource(t, p, c.Target())
	svc.SignIn.adminToken = "admin-token"
	ctx := context.Background()
	role := map[string]string{}
	for _, label := range []string{"rw", "ro"} {
		role[label] = applyRole(t, svc, spec.Role{Resource: p, Label: label, Scopes: []string{db}, Privileges: []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"}})
	}
	if err := svc.Masking.SetGuardrails(ctx, Principal{User: "admin", Admin: true}, role["rw"], guard.Policy{Block: guard.Kinds}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Masking.SetGuardrails(ctx, Principal{User: "admin", Admin: true}, role["ro"], guard.Policy{ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Masking.SetGuardrails(ctx, Principal{User: "admin", Admin: true}, role["ro"], guard.Policy{Block: []string{"everything"}}); err == nil {
		t.Error("an unknown kind was taken")
	}
	ln := serveListener(t, svc)
	connect := func(r string) *pgx.Conn {
		conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:admin-token@%s/%s?sslmode=disable", r, ln, db))
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	refused := func(err error, words string) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == "42501" && strings.Contains(pgErr.Message, words)
	}

	rw := connect(role["rw"])
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		for sql, words := range map[string]string{
			"DELETE FROM public.jobs":                     "DELETE without a WHERE",
			"UPDATE public.jobs SET state = 'x'":          "UPDATE without a WHERE",
			"TRUNCATE public.jobs":                        "TRUNCATE",
			"DROP TABLE public.jobs":                      "DROP",
			"CREATE TABLE public.t2 (x int)":              "CREATE TABLE (DDL)",
			"COPY public.jobs TO PROGRAM 'cat'":           "PROGRAM",
			"DO $$ BEGIN DELETE FROM public.jobs; END $$": "DO is blocked",
		} {
			if _, err := rw.Exec(ctx, sql, mode); !refused(err, words) {
				t.Errorf("%v %q: %v, want 42501 %q", mode, sql, err, words)
			}
		}
		// The same with a WHERE runs; the connection goes on.
		if tag, err := rw.Exec(ctx, "UPDATE public.jobs SET state = 'done' WHERE id = $1", mode, 1); err != nil || tag.RowsAffected() != 1 {
			t.Errorf("%v: an UPDATE with a WHERE: %v %v", mode, tag, err)
		}
	}
	// In a transaction, a refusal leaves it usable (the statement never ran).
	tx, err := rw.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM public.jobs"); !refused(err, "DELETE without a WHERE") {
		t.Errorf("in a transaction: %v", err)
	}
	tx.Rollback(ctx)
	var n int
	if err := rw.QueryRow(ctx, "SELECT count(*) FROM public.jobs").Scan(&n); err != nil || n != 2 {
		t.Errorf("the rows after the refusals: %d %v", n, err)
	}
	rw.Close(ctx)

	ro := connect(role["ro"])
	var pgErr *pgconn.PgError
	if _, err := ro.Exec(ctx, "UPDATE public.jobs SET state = 'x' WHERE id = 1"); !errors.As(err, &pgErr) || pgErr.Code != "25006" {
		t.Errorf("a write on a read-only role: %v, want PostgreSQL's 25006", err)
	}
	for _, sql := range []string{"SET default_transaction_read_only = off", "BEGIN READ WRITE", "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "SELECT set_config('default_transaction_read_only', 'off', false)"} {
		if _, err := ro.Exec(ctx, sql); !refused(err, "read-only") {
			t.Errorf("%q on a read-only role: %v", sql, err)
		}
	}
	if err := ro.QueryRow(ctx, "SELECT count(*) FROM public.jobs").Scan(&n); err != nil || n != 2 {
		t.Errorf("a read on the read-only role: %d %v", n, err)
	}
	ro.Close(ctx)

	for i := 0; ; i++ {
		list, _ := svc.Reporting.Sessions(ctx, Admin, store.SessionFilter{Kind: KindConnect})
		if len(list) >= 2 && list[0].Status == "ok" && list[1].Status == "ok" {
			out := list[0].Output + list[1].Output
			for _, w := range []string{"refused by guardrails:", "DELETE without a WHERE", "read-only"} {
				if !strings.Contains(out, w) {
					t.Errorf("the sessions' output lacks %q:\n%s", w, out)
				}
			}
			break
		}
		if i > 100 {
			t.Fatal("the connections' sessions never finished")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

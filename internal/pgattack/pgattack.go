// Package pgattack attacks masking and guardrails the way a hostile member
// of a role would: the PostgreSQL protocol spoken by hand (pgconn signs in,
// then gives up the socket) and real drivers, through whatever path a test
// gives it (the listener, stile connect). Its tests are issue 21's: each
// failed on the main of its day. It is imported by tests only.
package pgattack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/mask"
)

// Tables are the statements that make the attacks' tables in a database:
// customers (the values Secrets holds) and scratch (five rows a blocked
// statement would delete).
var Tables = []string{
	`CREATE TABLE public.customers (id int, email text, card_num text, ssn text, card_int int8, nickname text)`,
	`INSERT INTO public.customers VALUES (1, 'alice.smith@example.com', '4111 1111 1111 1111', '123-45-6789', 4111111111111111, 'Shadowfax-Zeta')`,
	`CREATE TABLE public.scratch (id int, a int)`, `INSERT INTO public.scratch SELECT g, g FROM generate_series(1, 5) g`,
	`ANALYZE public.customers`,
}

// Rules are the masked role's: column rules on email, ssn and nickname
// (which no detector reads), detectors for cards, emails and an SSN regex.
var Rules = []mask.Rule{
	{ID: "mail", Column: "*.*.customers.email", Style: mask.Partial},
	{ID: "ssn", Column: "*.*.customers.ssn", Style: mask.Redact},
	{ID: "nick", Column: "*.*.customers.nickname", Style: mask.Redact},
	{ID: "cards", Detector: "card", Style: mask.Partial},
	{ID: "emails", Detector: "email", Style: mask.Redact},
	{ID: "ssns", Detector: "regex", Regex: `\d{3}-\d{2}-\d{4}`, Style: mask.Redact},
}

// Guarded and ReadOnly are the guarded roles' guardrails.
var (
	Guarded  = guard.Policy{Block: guard.Kinds}
	ReadOnly = guard.Policy{ReadOnly: true}
)

// The raw values of the hostile tests' customers: none may reach a member
// of a masked role, in any byte the path sends.
var Secrets = []string{"123-45-6789", "4111111111111111", "4111 1111 1111 1111", "alice.smith@example.com"}

// Conn is a connection through a path, spoken by hand after
// startup (pgconn signs in, then gives the socket up), recording every byte
// the path sends.
type Conn struct {
	t    *testing.T
	conn net.Conn
	fe   *pgproto3.Frontend
	Got  bytes.Buffer
}

func Dial(t *testing.T, url string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	hj, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	r := &Conn{t: t, conn: hj.Conn}
	r.fe = pgproto3.NewFrontend(io.TeeReader(hj.Conn, &r.Got), hj.Conn)
	t.Cleanup(func() { hj.Conn.Close() })
	return r
}

// Round sends msgs and reads until ReadyForQuery, returning what came.
func (r *Conn) Round(msgs ...pgproto3.FrontendMessage) []pgproto3.BackendMessage {
	r.t.Helper()
	for _, m := range msgs {
		r.fe.Send(m)
	}
	if err := r.fe.Flush(); err != nil {
		r.t.Fatal(err)
	}
	r.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var out []pgproto3.BackendMessage
	for {
		m, err := r.fe.Receive()
		if err != nil {
			r.t.Fatalf("receive: %v (after %d messages)", err, len(out))
		}
		switch m := m.(type) {
		case *pgproto3.ReadyForQuery:
			return out
		case *pgproto3.DataRow:
			c := &pgproto3.DataRow{}
			for _, v := range m.Values {
				c.Values = append(c.Values, bytes.Clone(v))
			}
			out = append(out, c)
		case *pgproto3.ErrorResponse:
			e := *m
			out = append(out, &e)
		case *pgproto3.NotificationResponse:
			n := *m
			out = append(out, &n)
		default:
			out = append(out, m)
		}
	}
}

// Query is a simple Query round.
func (r *Conn) Query(sql string) []pgproto3.BackendMessage {
	return r.Round(&pgproto3.Query{String: sql})
}

// Leaked names the raw values in everything the listener sent so far.
func (r *Conn) Leaked() []string {
	var out []string
	for _, s := range Secrets {
		if bytes.Contains(r.Got.Bytes(), []byte(s)) {
			out = append(out, s)
		}
	}
	return out
}

// ErrorOf is the round's ErrorResponse, if any.
func ErrorOf(ms []pgproto3.BackendMessage) *pgproto3.ErrorResponse {
	for _, m := range ms {
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			return e
		}
	}
	return nil
}

// Rows are the values of the round's DataRows.
func Rows(ms []pgproto3.BackendMessage) [][]byte {
	var out [][]byte
	for _, m := range ms {
		if d, ok := m.(*pgproto3.DataRow); ok {
			out = append(out, d.Values...)
		}
	}
	return out
}

// Masking attacks a role with Rules on a database with Tables, each
// connection dialled at url() (issue 21, items 1-4): no raw value may reach
// the client, what the filter cannot read is refused, and ordinary drivers
// get masked values, not refusals.
func Masking(t *testing.T, url func() string) {
	ctx := context.Background()
	const q = "select id, email, card_num, ssn, nickname from public.customers"
	binary := []int16{1}

	t.Run("1 execute without describe", func(t *testing.T) {
		for _, formats := range [][]int16{nil, binary} {
			r := Dial(t, url())
			got := r.Round(&pgproto3.Parse{Query: q}, &pgproto3.Bind{ResultFormatCodes: formats}, &pgproto3.Execute{}, &pgproto3.Sync{})
			// A driver's statement cache: described once, executed later
			// with Bind and Execute only.
			r.Round(&pgproto3.Parse{Name: "s1", Query: q}, &pgproto3.Describe{ObjectType: 'S', Name: "s1"}, &pgproto3.Sync{})
			got = append(got, r.Round(&pgproto3.Bind{PreparedStatement: "s1", ResultFormatCodes: formats}, &pgproto3.Execute{}, &pgproto3.Sync{})...)
			// A pipeline of two statements on the unnamed portal.
			got = append(got, r.Round(&pgproto3.Parse{Query: "select 1"}, &pgproto3.Bind{}, &pgproto3.Execute{},
				&pgproto3.Parse{Query: q}, &pgproto3.Bind{ResultFormatCodes: formats}, &pgproto3.Execute{}, &pgproto3.Sync{})...)
			// A SQL cursor executed by name, a portal no Bind made.
			r.Query("begin; declare cur binary cursor for " + q)
			got = append(got, r.Round(&pgproto3.Execute{Portal: "cur"}, &pgproto3.Sync{})...)
			r.Query("commit")
			if l := r.Leaked(); l != nil || bytes.Contains(r.Got.Bytes(), []byte("Shadowfax-Zeta")) {
				t.Errorf("formats %v: raw values reached the client: %q", formats, append(l, "maybe Shadowfax-Zeta"))
			}
			if Rows(got) == nil && ErrorOf(got) == nil {
				t.Errorf("formats %v: neither rows nor a refusal", formats)
			}
		}
	})

	t.Run("2 binary values of other types", func(t *testing.T) {
		for _, expr := range []string{
			"ssn::refcursor, card_num::xml, email", "array[ssn], array[card_num]", "row(ssn, card_num)",
			"convert_to(ssn, 'UTF8'), convert_to(card_num, 'UTF8')", "card_int", "array[card_int]", "card_int::numeric",
			"ssn::name", "to_json(ssn)", "array[row(ssn)]",
		} {
			r := Dial(t, url())
			r.Query("begin; declare c binary cursor for select " + expr + " from public.customers; fetch all c; commit")
			if l := r.Leaked(); l != nil {
				t.Errorf("%s: raw values reached the client: %q", expr, l)
			}
		}
		r := Dial(t, url())
		r.Query("begin; declare c binary cursor for select most_common_vals from pg_stats where tablename = 'customers'; fetch all c; commit")
		if l := r.Leaked(); l != nil {
			t.Errorf("pg_stats: raw values reached the client: %q", l)
		}
	})

	t.Run("3 fastpath", func(t *testing.T) {
		r := Dial(t, url())
		oid := Rows(r.Query("select 'query_to_xml(text,boolean,boolean,text)'::regprocedure::oid"))
		var fn uint32
		fmt.Sscan(string(oid[0]), &fn)
		got := r.Round(&pgproto3.FunctionCall{Function: fn, ArgFormatCodes: []uint16{0},
			Arguments: [][]byte{[]byte("select ssn, card_num from public.customers"), []byte("f"), []byte("f"), []byte("")}, ResultFormatCode: 0})
		if e := ErrorOf(got); e == nil || e.Code != "42501" || !strings.Contains(e.Message, "fastpath") {
			t.Errorf("a fastpath call: %+v", got)
		}
		if l := r.Leaked(); l != nil {
			t.Errorf("raw values reached the client: %q", l)
		}
		// The connection goes on.
		if rows := Rows(r.Query("select 1")); len(rows) != 1 {
			t.Errorf("after the refusal: %q", rows)
		}
	})

	t.Run("4 notifications and settings", func(t *testing.T) {
		r := Dial(t, url())
		got := r.Query("LISTEN c; SELECT pg_notify('c', ssn || ' ' || card_num || ' ' || email) FROM public.customers")
		got = append(got, r.Query("SELECT 1")...)
		got = append(got, r.Query("SELECT set_config('application_name', ssn, false) FROM public.customers")...)
		// A value no detector reads, in a setting only: a role with
		// column rules gets it redacted.
		got = append(got, r.Query("SELECT 1 FROM (SELECT set_config('application_name', 'x' || card_num, false) FROM public.customers) s")...)
		if l := r.Leaked(); l != nil {
			t.Errorf("raw values reached the client: %q", l)
		}
		n := 0
		for _, m := range got {
			if _, ok := m.(*pgproto3.NotificationResponse); ok {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no notification came (it is masked, not lost): %+v", got)
		}
	})

	t.Run("ordinary clients stay masked, not refused", func(t *testing.T) {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec} {
			conn, err := pgx.Connect(ctx, url())
			if err != nil {
				t.Fatal(err)
			}
			var email, card, ssn string
			var id, cardInt int64
			err = conn.QueryRow(ctx, "select id, email, card_num, ssn from public.customers", mode).Scan(&id, &email, &card, &ssn)
			if err != nil || email == Secrets[3] || card == Secrets[2] || ssn == Secrets[0] || id != 1 {
				t.Errorf("%v: %v %q %q %q %v", mode, id, email, card, ssn, err)
			}
			// A card number in an int8 asked for in binary is refused
			// (its binary form cannot carry it masked); in text it is
			// masked.
			err = conn.QueryRow(ctx, "select card_int from public.customers", mode).Scan(&cardInt)
			if err == nil && cardInt == 4111111111111111 {
				t.Errorf("%v: the card number in an int8 came back raw", mode)
			}
			conn.Close(ctx)
		}
	})
}

// Guardrails attacks a role with Guarded (each connection dialled at
// guarded()) and one with ReadOnly (at readOnly()), both on a database
// with Tables (issue 21, items 5-8): nothing blocked runs (the scratch
// table keeps its rows, read-only stays read-only), and a DELETE with a
// WHERE still does. The scratch table loses one row.
func Guardrails(t *testing.T, guarded, readOnly func() string) {
	count := func(r *Conn) string {
		t.Helper()
		rows := Rows(r.Query("select count(*) from public.scratch where a is not null"))
		if len(rows) != 1 {
			t.Fatalf("count: %q", rows)
		}
		return string(rows[0])
	}
	// intact checks the scratch table after an attack, and puts back what
	// one that got through changed, so the next is judged on its own.
	intact := func(r *Conn, attack string) {
		t.Helper()
		if n := count(r); n != "5" {
			t.Errorf("%s: the scratch table has %s rows of 5", attack, n)
			r.Query("ROLLBACK")
			r.Query("DELETE FROM public.scratch WHERE true")
			r.Query("INSERT INTO public.scratch SELECT g, g FROM generate_series(1, 5) g")
		}
	}
	for _, attack := range []struct{ name, sql, words string }{
		{"5 RETURNING 1 AS where", "DELETE FROM public.scratch RETURNING 1 AS where", "DELETE without a WHERE"},
		{"5 update RETURNING where", "UPDATE public.scratch SET a = NULL RETURNING 1 AS where", "UPDATE without a WHERE"},
		{"6 COPY (DELETE)", "COPY (DELETE FROM public.scratch RETURNING id) TO STDOUT", "DELETE without a WHERE"},
		{"7 standard_conforming_strings", "SET standard_conforming_strings = off", "standard_conforming_strings"},
		{"7 client_encoding", "SET client_encoding = 'SJIS'", "client_encoding"},
		{"7 set_config", "SELECT set_config('standard_conforming_strings', 'off', false)", "standard_conforming_strings"},
		{"MERGE", "MERGE INTO public.scratch s USING (SELECT 1) x ON true WHEN MATCHED THEN DELETE", "MERGE"},
	} {
		r := Dial(t, guarded())
		got := r.Query(attack.sql)
		if e := ErrorOf(got); e == nil || e.Code != "42501" || !strings.Contains(e.Message, attack.words) {
			t.Errorf("%s: %+v, want 42501 %q", attack.name, got, attack.words)
		}
		// The string tricks, in case the setting got through: a
		// backslash that ends a string or not, and a Shift JIS character
		// whose second byte is a backslash.
		r.Query(`SELECT 'x\' , '; DELETE FROM public.scratch; --'`)
		r.Query("SELECT E'\x83\x5c'; DELETE FROM public.scratch; --'")
		intact(r, attack.name)
	}
	// The trick in one pipeline: the SET runs first and the string is
	// read after it, in the extended protocol.
	r := Dial(t, guarded())
	r.Round(&pgproto3.Parse{Query: "SET standard_conforming_strings = off"}, &pgproto3.Bind{}, &pgproto3.Execute{},
		&pgproto3.Parse{Query: `WITH a AS (SELECT 'x\' ), b AS (SELECT '), d AS (DELETE FROM public.scratch RETURNING 1) SELECT 1 --') SELECT 1`},
		&pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	intact(r, "the pipelined string trick")
	// A WHERE still runs.
	if e := ErrorOf(r.Query("DELETE FROM public.scratch WHERE id = 5")); e != nil || count(r) != "4" {
		t.Errorf("a DELETE with a WHERE: %v", e)
	}
	if rows := Rows(r.Query("with x as (select 1) select count(*) from x")); len(rows) != 1 {
		t.Errorf("a CTE the tokenizer refused: %q", rows)
	}

	// 8: read-only undone by quoted names.
	for _, sql := range []string{
		`SET "default_transaction_read_only" = off`,
		`SELECT "set_config"('default_transaction_read_only','off',false)`,
		`SELECT U&"set\005fconfig"('default_transaction_read_only','off',false)`,
		`BEGIN; SET "transaction_read_only" = off; UPDATE public.scratch SET a = NULL WHERE true; COMMIT`,
	} {
		r := Dial(t, readOnly())
		got := r.Query(sql)
		if e := ErrorOf(got); e == nil || e.Code != "42501" {
			t.Errorf("%s: %+v, want 42501", sql, got)
		}
		r.Query("ROLLBACK")
		if e := ErrorOf(r.Query("UPDATE public.scratch SET a = NULL WHERE true")); e == nil || e.Code != "25006" {
			t.Errorf("after %s: the role writes (%v)", sql, e)
		}
	}
}

package proxy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// frontend encodes client messages as they travel on the wire.
func frontend(t *testing.T, msgs ...pgproto3.FrontendMessage) []byte {
	t.Helper()
	var buf []byte
	for _, m := range msgs {
		var err error
		if buf, err = m.Encode(buf); err != nil {
			t.Fatal(err)
		}
	}
	return buf
}

// TestRecorderSplits: the SQL of simple and extended protocol messages is
// recorded however the stream is cut into frames, and other messages
// (Bind, Execute, Sync, Terminate) are skipped.
func TestRecorderSplits(t *testing.T) {
	stream := frontend(t,
		&pgproto3.Query{String: "SELECT 1; SELECT 2"},
		&pgproto3.Parse{Name: "s1", Query: "SELECT * FROM t WHERE id = $1", ParameterOIDs: []uint32{23}},
		&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{[]byte("42")}},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
		&pgproto3.Parse{Query: "UPDATE t SET x = 'é'"},
		&pgproto3.Terminate{},
	)
	want := []string{"SELECT 1; SELECT 2", "SELECT * FROM t WHERE id = $1", "UPDATE t SET x = 'é'"}
	for cut := range len(stream) + 1 {
		for _, step := range []int{1, 3, len(stream)} {
			r := &recorder{}
			r.feed(stream[:cut])
			for i := cut; i < len(stream); i += step {
				r.feed(stream[i:min(i+step, len(stream))])
			}
			if !slices.Equal(r.statements, want) {
				t.Fatalf("cut at %d, then %d bytes at a time: %q", cut, step, r.statements)
			}
			if r.executed != 2 {
				t.Fatalf("cut at %d, then %d bytes at a time: %d executed, want 2 (the Query and the Execute)", cut, step, r.executed)
			}
		}
	}
}

// TestRecorderBounds: a session keeps at most maxStatements statements of
// at most maxStatementLen bytes, and a stream that is not the protocol stops
// the recording without failing the relay.
func TestRecorderBounds(t *testing.T) {
	r := &recorder{}
	long := strings.Repeat("x", maxStatementLen+10)
	r.feed(frontend(t, &pgproto3.Query{String: long}))
	if got := r.statements[0]; len(got) != maxStatementLen+len("…") || !strings.HasSuffix(got, "…") {
		t.Fatalf("a long statement was kept as %d bytes", len(got))
	}
	for range maxStatements + 5 {
		r.feed(frontend(t, &pgproto3.Query{String: "SELECT 1"}))
	}
	if len(r.statements) != maxStatements {
		t.Fatalf("kept %d statements, want %d", len(r.statements), maxStatements)
	}
	if r.executed != maxStatements+6 {
		t.Fatalf("counted %d executed, want every one (%d) past the cap too", r.executed, maxStatements+6)
	}

	// Garbage: nothing after it is recorded, even what looks like a query.
	g := &recorder{}
	g.feed([]byte{'Q', 0xff, 0xff, 0xff, 0xff, 'x'})
	g.feed(frontend(t, &pgproto3.Query{String: "SELECT 1"}))
	if len(g.statements) != 0 || !g.stopped {
		t.Fatalf("after garbage: recorded %q", g.statements)
	}
}

// TestRecorderMemory: a 16 MB Bind, or a 16 MB Query, passes in 32 KB frames
// without the recorder holding more than the start of a statement.
func TestRecorderMemory(t *testing.T) {
	big := strings.Repeat("y", 16<<20)
	stream := frontend(t, &pgproto3.Bind{Parameters: [][]byte{[]byte(big)}}, &pgproto3.Query{String: "SELECT '" + big + "'"},
		&pgproto3.Query{String: "SELECT 2"})
	r := &recorder{}
	for i := 0; i < len(stream); i += 32 << 10 {
		r.feed(stream[i:min(i+32<<10, len(stream))])
		if cap(r.body) > 2*keepBytes {
			t.Fatalf("the recorder holds %d bytes", cap(r.body))
		}
	}
	if len(r.statements) != 2 || !strings.HasPrefix(r.statements[0], "SELECT 'yyy") || r.statements[1] != "SELECT 2" {
		t.Fatalf("recorded %d statements: %.40q", len(r.statements), r.statements)
	}
}

// TestRecorderNoAllocs: past its first maxStatements statements a session's
// recorder only counts, and allocates nothing per message, whether the
// messages arrive whole or cut in two.
func TestRecorderNoAllocs(t *testing.T) {
	stream := frontend(t,
		&pgproto3.Query{String: "SELECT abalance FROM pgbench_accounts WHERE aid = 42;"},
		&pgproto3.Parse{Query: "SELECT abalance FROM pgbench_accounts WHERE aid = $1;"},
		&pgproto3.Bind{Parameters: [][]byte{[]byte("42")}},
		&pgproto3.Describe{ObjectType: 'P'},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
		&pgproto3.FunctionCall{Function: 764, Arguments: [][]byte{{0, 0, 0, 1}}, ResultFormatCode: 1},
	)
	r := &recorder{}
	feeds := 0
	for len(r.statements) < maxStatements {
		r.feed(stream)
		feeds++
	}
	if n := testing.AllocsPerRun(100, func() { r.feed(stream); feeds++ }); n != 0 {
		t.Errorf("whole messages: %v allocations per feed, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { r.feed(stream[:20]); r.feed(stream[20:]); feeds++ }); n != 0 {
		t.Errorf("messages cut in two: %v allocations per feed, want 0", n)
	}
	// Each feed runs the Query, the Execute and the function call.
	if r.stopped || r.executed != int64(3*feeds) {
		t.Fatalf("after %d feeds: %d executed, stopped %v", feeds, r.executed, r.stopped)
	}
}

// TestRecorderRandomCuts: whatever the messages and however reads cut
// them, the recorder keeps what each message says, in order, each cut to
// maxStatementLen and at most maxStatements of them, and counts every
// Query, Execute and FunctionCall.
func TestRecorderRandomCuts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cut := func(s string) string {
		if len(s) > maxStatementLen {
			return s[:maxStatementLen] + "…"
		}
		return s
	}
	for round := range 20 {
		var msgs []pgproto3.FrontendMessage
		var want []string
		var executed int64
		for range 200 + rng.IntN(1200) {
			sql := strings.Repeat("SELECT 1;", rng.IntN(20))
			if rng.IntN(50) == 0 {
				sql = strings.Repeat("x", keepBytes+rng.IntN(100)-50)
			}
			switch rng.IntN(6) {
			case 0:
				msgs = append(msgs, &pgproto3.Query{String: sql})
				want, executed = append(want, cut(sql)), executed+1
			case 1:
				msgs = append(msgs, &pgproto3.Parse{Name: "s" + fmt.Sprint(rng.IntN(100)), Query: sql})
				want = append(want, cut(sql))
			case 2:
				msgs = append(msgs, &pgproto3.Bind{Parameters: [][]byte{[]byte(sql)}})
			case 3:
				msgs = append(msgs, &pgproto3.Execute{})
				executed++
			case 4:
				msgs = append(msgs, &pgproto3.FunctionCall{Function: uint32(rng.IntN(1 << 20))})
				want = append(want, fmt.Sprintf("fastpath function call (function oid %d)", msgs[len(msgs)-1].(*pgproto3.FunctionCall).Function))
				executed++
			case 5:
				msgs = append(msgs, &pgproto3.Sync{})
			}
		}
		want = want[:min(len(want), maxStatements)]
		stream := frontend(t, msgs...)
		r := &recorder{}
		for i := 0; i < len(stream); {
			n := 1 + rng.IntN(1<<rng.IntN(14))
			r.feed(stream[i:min(i+n, len(stream))])
			i += n
		}
		if !slices.Equal(r.statements, want) || r.executed != executed || r.stopped {
			t.Fatalf("round %d: %d statements, %d executed, stopped %v; want %d and %d", round, len(r.statements), r.executed, r.stopped, len(want), executed)
		}
	}
}

package proxy

import (
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

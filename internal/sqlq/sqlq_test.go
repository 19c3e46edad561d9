package sqlq

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestIdent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`we"ird`, `"we""ird"`},
		{"a;DROP ROLE x;--", `"a;DROP ROLE x;--"`},
		{"", `""`},
		{"nul\x00byte", `"nulbyte"`},
	}
	for _, tt := range tests {
		if got := Ident(tt.in); got != tt.want {
			t.Errorf("Ident(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestLiteral(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", `'abc'`},
		{"it's", `'it''s'`},
		{`back\slash`, `'back\slash'`},
	}
	for _, tt := range tests {
		if got := Literal(tt.in); got != tt.want {
			t.Errorf("Literal(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestPsqlConnect(t *testing.T) {
	tests := []struct{ in, want string }{
		{"analytics", `\connect -reuse-previous=on "dbname='analytics'"`},
		{"dbname=e1", `\connect -reuse-previous=on "dbname='dbname=e1'"`},
		{`we"ird`, `\connect -reuse-previous=on "dbname='we""ird'"`},
		{`o'k\x`, `\connect -reuse-previous=on "dbname='o\'k\\x'"`},
	}
	for _, tt := range tests {
		if got := PsqlConnect(tt.in); got != tt.want {
			t.Errorf("PsqlConnect(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzIdent checks that Ident agrees with pgx's sanitizer and that the quoted
// form always parses back to the same name.
func FuzzIdent(f *testing.F) {
	for _, s := range []string{"a", `"`, `a"b`, "a;b", "\x00", "ünï"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Ident(s)
		if want := (pgx.Identifier{s}).Sanitize(); got != want {
			t.Fatalf("Ident(%q) = %s, pgx says %s", s, got, want)
		}
		if back := unquote(t, got); back != strings.ReplaceAll(s, "\x00", "") {
			t.Fatalf("round trip %q -> %s -> %q", s, got, back)
		}
	})
}

func unquote(t *testing.T, q string) string {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		t.Fatalf("not quoted: %s", q)
	}
	body := q[1 : len(q)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if body[i] == '"' {
			if i+1 >= len(body) || body[i+1] != '"' {
				t.Fatalf("lone quote inside %s", q)
			}
			i++
		}
		b.WriteByte(body[i])
	}
	return b.String()
}

package sqldb

import (
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	pg := &Dialect{Prefix: "stile_", Dollar: true, Collate: ` COLLATE "C"`, Lock: " FOR UPDATE", SkipLocked: " FOR UPDATE SKIP LOCKED", Unset: "IS NULL"}
	lite := &Dialect{Unset: "= ''"}
	tests := []struct{ in, pg, lite string }{
		{"SELECT 1", "SELECT 1", "SELECT 1"},
		{"SELECT a FROM {roles} WHERE a = ? AND b = ?{lock}",
			"SELECT a FROM stile_roles WHERE a = $1 AND b = $2 FOR UPDATE",
			"SELECT a FROM roles WHERE a = ? AND b = ?"},
		{"SELECT id FROM {jobs} WHERE agent IN (?, ?) ORDER BY id{C} LIMIT ?{skiplocked}",
			`SELECT id FROM stile_jobs WHERE agent IN ($1, $2) ORDER BY id COLLATE "C" LIMIT $3 FOR UPDATE SKIP LOCKED`,
			"SELECT id FROM jobs WHERE agent IN (?, ?) ORDER BY id LIMIT ?"},
		{"UPDATE {tokens} SET revoked_at = ? WHERE revoked_at {unset}",
			"UPDATE stile_tokens SET revoked_at = $1 WHERE revoked_at IS NULL",
			"UPDATE tokens SET revoked_at = ? WHERE revoked_at = ''"},
	}
	for _, tt := range tests {
		if got := pg.render(tt.in); got != tt.pg {
			t.Errorf("postgres render(%q)\n got %q\nwant %q", tt.in, got, tt.pg)
		}
		if got := lite.render(tt.in); got != tt.lite {
			t.Errorf("sqlite render(%q)\n got %q\nwant %q", tt.in, got, tt.lite)
		}
	}
}

// TestTimeCodec: text times keep their order as text and round-trip, and
// every encoding of "unset" scans back to the zero time.
func TestTimeCodec(t *testing.T) {
	a := time.Date(2026, 1, 2, 3, 4, 5, 200_000_000, time.UTC)
	b := a.Add(20 * time.Millisecond)
	ta, tb := TimeText(a).(string), TimeText(b).(string)
	if !(ta < tb) {
		t.Errorf("text order: %q >= %q", ta, tb)
	}
	var got time.Time
	for _, src := range []any{ta, []byte(ta), a.In(time.FixedZone("x", 3600))} {
		if err := (at{&got}).Scan(src); err != nil || !got.Equal(a) || got.Location() != time.UTC {
			t.Errorf("scan %v: %v, %v", src, got, err)
		}
	}
	for _, src := range []any{TimeText(time.Time{}), TimeNull(time.Time{})} {
		got = a
		if err := (at{&got}).Scan(src); err != nil || !got.IsZero() {
			t.Errorf("scan unset %#v: %v, %v", src, got, err)
		}
	}
}

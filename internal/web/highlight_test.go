package web

import (
	"strings"
	"testing"
)

// TestHighlightMarksDestructiveSteps: the statements a "-- destructive:"
// comment introduces are marked, up to the next comment; nothing else is,
// and names stay escaped.
func TestHighlightMarksDestructiveSteps(t *testing.T) {
	sql := strings.Join([]string{
		`-- destructive: held but not declared`,
		`REVOKE INSERT ON TABLE "public"."<b>" FROM "r";`,
		`RESET ROLE;`,
		`-- missing SELECT on 1 table`,
		`GRANT SELECT ON TABLE "public"."t" TO "r";`,
		`COMMIT;`,
	}, "\n")
	got := string(highlightSQL(sql))
	lines := strings.Split(got, "\n")
	for i, want := range []bool{true, true, false, false, false, false} {
		if marked := strings.Contains(lines[i], `class="d"`) || strings.Contains(lines[i], `class="c d"`); marked != want {
			t.Errorf("line %d marked %v, want %v: %s", i+1, marked, want, lines[i])
		}
	}
	if strings.Contains(got, "<b>") || !strings.Contains(got, "&lt;b&gt;") {
		t.Errorf("a name was not escaped: %s", got)
	}
}

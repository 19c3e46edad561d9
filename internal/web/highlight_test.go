package web

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/plan"
)

// markedLines returns the lines of h that carry the destructive mark, as
// text (tags dropped, entities read).
func markedLines(h string) []string {
	var out []string
	for _, l := range strings.Split(h, "\n") {
		if strings.Contains(l, `class="d"`) || strings.Contains(l, `class="c d"`) {
			out = append(out, html.UnescapeString(tag.ReplaceAllString(l, "")))
		}
	}
	return out
}

var tag = regexp.MustCompile(`<[^>]*>`)

// TestPlanHTMLMarksDestructiveSteps: the lines of the destructive steps
// are marked, from the steps: a destructive step without a reason too, and
// not a step without a reason that follows one; names stay escaped.
func TestPlanHTMLMarksDestructiveSteps(t *testing.T) {
	blocks := []plan.Block{{Database: "app", Steps: []plan.Step{
		{SQL: `REVOKE INSERT ON TABLE "public"."<b>" FROM "r"`, Reason: "held but not declared", Destructive: true},
		{SQL: `GRANT SELECT ON TABLE "public"."u" TO "r"`},
		{SQL: `REVOKE "grp" FROM "r"`, Destructive: true},
		{SQL: `GRANT SELECT ON TABLE "public"."t" TO "r"`, Reason: "missing SELECT on 1 table"},
	}}}
	doc := plan.Document{Config: plan.Config{RoleName: "r"}, Blocks: blocks, SQLPlan: plan.Render("r", blocks, nil)}
	got := string(planHTML(doc))
	marked := markedLines(got)
	want := []string{"-- destructive: held but not declared", `REVOKE INSERT`, `REVOKE "grp"`}
	if len(marked) != len(want) {
		t.Fatalf("marked lines:\n%s\nwant %d, of\n%s", strings.Join(marked, "\n"), len(want), got)
	}
	for i, w := range want {
		if !strings.HasPrefix(marked[i], w) {
			t.Errorf("marked line %d: %s, want %s", i+1, marked[i], w)
		}
	}
	if strings.Contains(got, "<b>") || !strings.Contains(got, "&lt;b&gt;") {
		t.Errorf("a name was not escaped: %s", got)
	}
	if !strings.Contains(got, `<span class="m">\connect`) || !strings.Contains(got, `<span class="c">-- missing SELECT on 1 table</span>`) {
		t.Errorf("meta-command or comment not marked up:\n%s", got)
	}
}

// TestPlanHTMLReadsNoComment: a destructive comment in the text marks
// nothing; only steps do. A document without steps (made before documents
// carried them) or whose steps do not render to its SQL is shown as text.
func TestPlanHTMLReadsNoComment(t *testing.T) {
	text := strings.Join([]string{
		`\connect -reuse-previous=on "dbname='app'"`,
		`BEGIN;`,
		`-- destructive: held but not declared`,
		`REVOKE INSERT ON TABLE "public"."t" FROM "r";`,
		`COMMIT;`,
	}, "\n") + "\n"
	old := plan.Document{Config: plan.Config{RoleName: "r"}, SQLPlan: text}
	other := old
	other.Blocks = []plan.Block{{Database: "app", Steps: []plan.Step{{SQL: `GRANT SELECT ON TABLE "public"."t" TO "r"`, Destructive: true}}}}
	for name, doc := range map[string]plan.Document{"no steps": old, "other steps": other} {
		got := string(planHTML(doc))
		if m := markedLines(got); len(m) > 0 {
			t.Errorf("%s: marked from the text:\n%s", name, strings.Join(m, "\n"))
		}
		if !strings.Contains(got, `<span class="c">-- destructive: held but not declared</span>`) || strings.Contains(got, "GRANT") {
			t.Errorf("%s: not the document's text:\n%s", name, got)
		}
	}
}

package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/pgtest"
)

// TestPrintDestructive: the destructive steps are listed from the
// document's steps, where each runs and why; a document's text alone (a
// "-- destructive:" comment, no steps) lists nothing.
func TestPrintDestructive(t *testing.T) {
	doc := &api.PlanDocument{
		SQLPlan: "-- destructive: forged\nREVOKE ALL ON TABLE \"t\" FROM \"r\";\n",
		Blocks: []api.PlanBlock{
			{Steps: []api.PlanStep{{SQL: `ALTER ROLE "r" LOGIN`, Reason: "attributes"}, {SQL: `REVOKE "grp" FROM "r"`, Reason: "a membership", Destructive: true}}},
			{Database: "a\nb", Steps: []api.PlanStep{{SQL: "REVOKE DELETE ON TABLE \"x\ny\" FROM \"r\"", Destructive: true}}},
		},
	}
	var b bytes.Buffer
	printDestructive(&b, doc)
	want := "Destructive: 2 step(s) of this plan take something away:\n" +
		"  role: REVOKE \"grp\" FROM \"r\";  (a membership)\n" +
		"  database \"a\\nb\": REVOKE DELETE ON TABLE \"x?y\" FROM \"r\";\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	doc.Blocks = nil
	printDestructive(&b, doc)
	if b.Len() != 0 {
		t.Errorf("listed from the text:\n%s", b.String())
	}
}

// TestPlanShowsDestructiveSteps: a plan that takes something away says so
// on stderr, from its steps, when printed for people (the plan and plan
// status); --json carries the steps instead, and a plan that only gives
// says nothing.
func TestPlanShowsDestructiveSteps(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	c.Exec(t, p+"_app", "CREATE TABLE public.t (id int)")
	h := startServer(t, t.TempDir())
	res := p + "_r"
	h.addResource(res, tg)
	args := []string{"resources", "plan", res, "--role", "ro", "--scopes", p + "_app", "--privileges", "SELECT"}
	code, doc, stderr := h.stile("", args...)
	if code != 0 || stderr != "" {
		t.Fatalf("first plan: exit %d, stderr %q", code, stderr)
	}
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	c.Exec(t, p+"_app", `GRANT DELETE ON public.t TO "`+field(doc, "role_name")+`"`)

	code, doc, stderr = h.stile("", args...)
	want := "Destructive: 1 step(s) of this plan take something away:\n  database \"" + p + "_app\": REVOKE DELETE ON TABLE \"public\".\"t\" FROM \"" + field(doc, "role_name") + "\";  (held but not declared)\n"
	if code != 0 || stderr != want {
		t.Fatalf("plan after drift: exit %d, stderr\n%s\nwant\n%s", code, stderr, want)
	}
	sid := field(doc, "sid")
	if code, again, stderr := h.stile("", "resources", "plan", "status", sid); code != 0 || again != doc || stderr != want {
		t.Errorf("plan status: exit %d, stderr\n%s", code, stderr)
	}
	code, out, stderr := h.stile("", "resources", "plan", "status", sid, "--json")
	var got api.PlanDocument
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || stderr != "" {
		t.Fatalf("plan status --json: exit %d, %v, stderr %q", code, err, stderr)
	}
	n := 0
	for _, b := range got.Blocks {
		for _, s := range b.Steps {
			if s.Destructive && strings.HasPrefix(s.SQL, "REVOKE DELETE") && b.Database == p+"_app" {
				n++
			}
		}
	}
	if n != 1 {
		t.Errorf("plan status --json: the destructive step is not in its blocks:\n%s", out)
	}
}

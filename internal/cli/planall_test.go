package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/spec"
)

// TestPlanAll: plan --all is the fleet's drift check. After two resources'
// roles are applied it is in sync (exit 0 with --detailed-exitcode) and
// stays so after an exploratory plan that is never applied; drift by hand
// makes it exit 2, its results file applies the repair, and --resource
// narrows it.
func TestPlanAll(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	c.Exec(t, p+"_app", "CREATE TABLE public.t (id int)")
	h := startServer(t, t.TempDir())
	r1, r2 := p+"_r1", p+"_r2"
	h.addResource(r1, tg)
	h.addResource(r2, tg)
	file := h.write("plan.yaml", fmt.Sprintf("items:\n  - resource_name: %[1]s\n    role: ro\n    scopes: [%[3]s_app]\n    privileges: [SELECT]\n  - resource_name: %[2]s\n    role: ro\n    scopes: [%[3]s_app]\n    privileges: [SELECT]\n", r1, r2, p))
	results := filepath.Join(h.dir, "results.yaml")
	h.ok("", "resources", "plan", "-f", file, "-o", results)
	h.ok("", "resources", "apply", "-f", results)
	var data []byte

	h.ok("", "resources", "plan", "--all", "--detailed-exitcode")
	h.fails(2, "", "", "resources", "plan", r1, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT,INSERT", "--detailed-exitcode")
	out := h.ok("", "resources", "plan", "--all", "--detailed-exitcode")
	if strings.Count(out, "in-sync") != 2 {
		t.Fatalf("plan --all after an exploratory plan:\n%s", out)
	}

	name, err := spec.RoleName("stile", r2, "ro")
	if err != nil {
		t.Fatal(err)
	}
	c.Exec(t, p+"_app", `GRANT DELETE ON public.t TO "`+name+`"`)
	drift := filepath.Join(h.dir, "drift.yaml")
	h.fails(2, "", "", "resources", "plan", "--all", "--detailed-exitcode", "-o", drift)
	data, err = os.ReadFile(drift)
	if err != nil || strings.Count(string(data), "status: out-of-sync") != 1 || strings.Count(string(data), "status: in-sync") != 1 {
		t.Fatalf("drift results (%v):\n%s", err, data)
	}
	narrowed := h.ok("", "resources", "plan", "--all", "--resource", r1, "--detailed-exitcode")
	if strings.Contains(narrowed, r2) || !strings.Contains(narrowed, r1) {
		t.Fatalf("plan --all --resource %s:\n%s", r1, narrowed)
	}
	// apply -f --json: one JSON object per entry, as each lands.
	lines := strings.Split(strings.TrimSpace(h.ok("", "resources", "apply", "-f", drift, "--json")), "\n")
	var statuses []string
	for _, l := range lines {
		var o struct{ Status, RoleName string }
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("apply -f --json line %q: %v", l, err)
		}
		statuses = append(statuses, o.Status)
	}
	if slices.Sort(statuses); !slices.Equal(statuses, []string{"applied", "skipped"}) {
		t.Fatalf("apply -f --json statuses %v, want one applied (the drift) and one skipped (in sync)", statuses)
	}
	h.ok("", "resources", "plan", "--all", "--detailed-exitcode")
	h.fails(1, "not in the inventory", "", "resources", "plan", "--all", "--resource", "nope")
	h.fails(1, "--resource narrows --all", "", "resources", "plan", "--resource", r1)
}

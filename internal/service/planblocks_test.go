package service

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/target"
)

// olderAgent is the built-in agent answering plans as an older one would:
// "agent" sends its documents without their blocks (only beside them, in
// the result), "server" sends no blocks at all, as documents a server made
// before they carried blocks.
type olderAgent struct {
	runner.Local
	as *string
}

func (a olderAgent) Plan(ctx context.Context, t target.Target, in []plan.Input) ([]plan.Result, error) {
	out, err := a.Local.Plan(ctx, t, in)
	for i := range out {
		switch *a.as {
		case "agent":
			out[i].Document.Blocks = nil
		case "server":
			out[i].Document.Blocks, out[i].Blocks = nil, nil
		}
	}
	return out, err
}

// TestPlanDocumentsCarryBlocks: a plan session's document carries its
// blocks of steps, the destructive ones marked, also when an older agent
// sends them beside the document only; and a document without blocks (a
// plan made before they were kept) still applies, its destructive step
// included: apply re-plans and runs the fresh plan's steps.
func TestPlanDocumentsCarryBlocks(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_a")
	c.Exec(t, p+"_a", "CREATE TABLE public.t (id int)")
	as := ""
	svc, err := newService(t, t.TempDir(), "stile", olderAgent{as: &as})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.Inventory.ImportResources(ctx, Admin, fmt.Appendf(nil, "name,type,host,port,sslmode\n%s,postgres,%s,%d,disable\n", p, tg.Host, tg.Port), false); err != nil {
		t.Fatal(err)
	}
	if err := svc.Inventory.SetAdmin(ctx, Admin, spec.Admin{Resource: p, User: tg.User, Password: tg.Password}, ""); err != nil {
		t.Fatal(err)
	}
	declared := spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_a"}, Privileges: []string{"SELECT"}}
	name := applyRole(t, svc, declared)
	c.Exec(t, p+"_a", `GRANT DELETE ON public.t TO "`+name+`"`)

	for _, older := range []string{"", "agent"} {
		as = older
		out, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{declared})
		if err != nil || out[0].Status != plan.ItemOutOfSync {
			t.Fatalf("plan (older %q): %+v %v", older, out, err)
		}
		_, doc, err := svc.Provisioning.PlanStatus(ctx, Admin, out[0].SID)
		if err != nil {
			t.Fatal(err)
		}
		lines, ok := doc.Lines()
		if !ok || len(doc.Blocks) == 0 {
			t.Fatalf("older %q: the stored document's blocks (%d) do not render to its SQL:\n%s", older, len(doc.Blocks), doc.SQLPlan)
		}
		destructive := ""
		for _, l := range lines {
			if l.Destructive && l.Kind == plan.LineStatement {
				destructive += l.Text
			}
		}
		if !strings.Contains(destructive, "REVOKE DELETE") {
			t.Errorf("older %q: the destructive steps: %q", older, destructive)
		}
	}

	as = "server"
	out, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{declared})
	if err != nil || out[0].Status != plan.ItemOutOfSync {
		t.Fatalf("plan: %+v %v", out, err)
	}
	if _, doc, err := svc.Provisioning.PlanStatus(ctx, Admin, out[0].SID); err != nil || len(doc.Blocks) != 0 || !strings.Contains(doc.SQLPlan, "REVOKE DELETE") {
		t.Fatalf("a document as an older server kept it: %v %+v", err, doc)
	}
	as = ""
	res, err := svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, out[0].SID)
	if err != nil || res.Status != "applied" {
		t.Fatalf("apply of a document without blocks: %+v %v", res, err)
	}
	var held bool
	if err := c.Conn(t, p+"_a").QueryRow(ctx, `SELECT has_table_privilege($1, 'public.t', 'DELETE')`, name).Scan(&held); err != nil || held {
		t.Errorf("the apply left DELETE held (%v)", err)
	}
	again, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{declared})
	if err != nil || again[0].Status != plan.ItemInSync {
		t.Fatalf("re-plan after the apply: %+v %v", again, err)
	}
}

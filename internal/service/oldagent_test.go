package service

import (
	"context"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/target"
)

// oldAgent plans as an agent older than groups, adoption and strict rules
// does: its plan.Input has none of them (unknown JSON fields are dropped),
// and its planner, which knows no groups, makes a group a LOGIN role with a
// password.
type oldAgent struct{ runner.Local }

func (a oldAgent) Plan(ctx context.Context, t target.Target, inputs []plan.Input) ([]plan.Result, error) {
	old := make([]plan.Input, len(inputs))
	for i, in := range inputs {
		in.MemberOf, in.Strict, in.Kept = nil, nil, false
		in.Role.MemberOf, in.Role.Adopt, in.Role.Name = nil, false, ""
		old[i] = in
	}
	out, err := a.Local.Plan(ctx, t, old)
	for i := range out {
		if inputs[i].Role.Type == spec.Group {
			out[i].NeedsPassword = true
		}
	}
	return out, err
}

// TestOlderAgentRefused: a plan from an agent that does not know a role's
// groups or its adoption fails, naming the agent, instead of planning the
// role as one without them (a member that never joins its group, an
// adopted role's password reset).
func TestOlderAgentRefused(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_a", "CREATE ROLE "+p+"_app LOGIN")
	svc, err := newService(t, t.TempDir(), "stile", oldAgent{})
	if err != nil {
		t.Fatal(err)
	}
	res := p + "_r"
	addResources(t, svc, map[string]target.Target{res: c.Target()})
	out, err := svc.Provisioning.Plan(context.Background(), Principal{User: "test", Admin: true}, []spec.Role{
		{Resource: res, Type: spec.Group, Label: "readers", Scopes: []string{p + "_a"}, Privileges: []string{"SELECT"}},
		{Resource: res, Label: "member", MemberOf: []string{"readers"}},
		{Resource: res, Label: "app", Name: p + "_app", Adopt: true, Scopes: []string{p + "_a"}, Privileges: []string{"SELECT"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Status != plan.ItemFailed || !strings.Contains(o.Message, "groups or adoption") || !strings.Contains(o.Message, "older than the server") {
			t.Errorf("%s from an older agent: %s %s", o.Label, o.Status, o.Message)
		}
	}
}

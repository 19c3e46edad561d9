package agent

import (
	"context"
	"github.com/stile-dev/stile/internal/inspect"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/target"
)

// remote is a connected (or not) remote agent seen as an Agent.
type remote struct {
	hub  *Hub
	name string
}

func (r *remote) Name() string { return r.name }

func (r *remote) Online() bool { return r.hub.Online(context.Background(), r.name) }

func (r *remote) Health(ctx context.Context, t target.Target) (inspect.Health, error) {
	var res healthResult
	if err := r.hub.call(ctx, r.name, JobHealth, t, &res); err != nil {
		return inspect.Health{Status: "error", Error: err.Error()}, err
	}
	return res.Health, res.Err.err()
}

func (r *remote) Plan(ctx context.Context, t target.Target, inputs []plan.Input) ([]plan.Result, error) {
	var out []plan.Result
	err := r.hub.call(ctx, r.name, JobPlan, planJob{Target: t, Inputs: inputs}, &out)
	return out, err
}

func (r *remote) Apply(ctx context.Context, job apply.Job) apply.Report {
	var rep apply.Report
	if err := r.hub.call(ctx, r.name, JobApply, job, &rep); err != nil {
		// What is known: the agent went away or the job timed out. The
		// password outcome is unknown; the service settles it by login.
		return apply.Report{Outcome: apply.Failed, Message: err.Error(), Output: rep.Output + "-- " + err.Error() + "\n", Password: apply.PasswordUnknown}
	}
	return rep
}

func (r *remote) CheckLogin(ctx context.Context, t target.Target, role, password string) (bool, error) {
	var ok bool
	err := r.hub.call(ctx, r.name, JobCheckLogin, loginJob{Target: t, Role: role, Password: password}, &ok)
	return ok, err
}

func (r *remote) Scopes(ctx context.Context, t target.Target) ([]inspect.ScopeDatabase, error) {
	var out []inspect.ScopeDatabase
	err := r.hub.call(ctx, r.name, JobScopes, t, &out)
	return out, err
}

// Job payloads.
type (
	planJob struct {
		Target target.Target `json:"target"`
		Inputs []plan.Input  `json:"inputs"`
	}
	loginJob struct {
		Target   target.Target `json:"target"`
		Role     string        `json:"role"`
		Password string        `json:"password"`
	}
	// healthResult keeps the partial Health that goes with a failed check.
	healthResult struct {
		Health inspect.Health `json:"health"`
		Err    *wireError     `json:"err,omitempty"`
	}
)

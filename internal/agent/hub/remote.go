package hub

import (
	"context"
	"encoding/json"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/inspect"
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
	var res agent.HealthResult
	if err := r.hub.call(ctx, r.name, agent.JobHealth, t, &res); err != nil {
		return inspect.Health{Status: "error", Error: errs.Public(r.hub.log, err, "agent", r.name)}, err
	}
	return res.Health, res.Err.Err()
}

func (r *remote) Plan(ctx context.Context, t target.Target, inputs []plan.Input) ([]plan.Result, error) {
	var out []plan.Result
	err := r.hub.call(ctx, r.name, agent.JobPlan, agent.PlanJob{Target: t, Inputs: inputs}, &out)
	return out, err
}

func (r *remote) ApplyBatch(ctx context.Context, jobs []apply.Job, report func(int, apply.Report)) []apply.Report {
	reps := make([]apply.Report, len(jobs))
	seen := make([]bool, len(jobs))
	settle := func(i int, rep apply.Report) {
		seen[i], reps[i] = true, rep
		if report != nil {
			report(i, rep)
		}
	}
	var final []apply.Report
	err := r.hub.callWithProgress(ctx, r.name, agent.JobApplyBatch, jobs, &final, func(raw json.RawMessage) {
		var p agent.BatchProgress
		if json.Unmarshal(raw, &p) == nil && p.Index >= 0 && p.Index < len(jobs) && !seen[p.Index] {
			settle(p.Index, p.Report)
		}
	})
	public := "" // what people may read of err, logged once if internal
	for i := range jobs {
		switch {
		case seen[i]:
		case err == nil && i < len(final):
			settle(i, final[i])
		default:
			// What is known: the agent went away or the job timed out
			// before this job reported. Its password outcome is unknown;
			// the service settles it by login.
			msg := "the agent reported no outcome"
			if err != nil {
				if public == "" {
					public = errs.Public(r.hub.log, err, "agent", r.name)
				}
				msg = public
			}
			settle(i, apply.Report{Outcome: apply.Failed, Message: msg, Output: "-- " + msg + "\n", Password: apply.PasswordUnknown})
		}
	}
	return reps
}

func (r *remote) CheckLogin(ctx context.Context, t target.Target, role, password string) (bool, error) {
	var ok bool
	err := r.hub.call(ctx, r.name, agent.JobCheckLogin, agent.LoginJob{Target: t, Role: role, Password: password}, &ok)
	return ok, err
}

func (r *remote) Scopes(ctx context.Context, t target.Target) ([]inspect.ScopeDatabase, error) {
	var out []inspect.ScopeDatabase
	err := r.hub.call(ctx, r.name, agent.JobScopes, t, &out)
	return out, err
}

func (r *remote) Discover(ctx context.Context, t target.Target) (inspect.Discovery, error) {
	var out inspect.Discovery
	err := r.hub.call(ctx, r.name, agent.JobDiscover, t, &out)
	return out, err
}

func (r *remote) WhoCan(ctx context.Context, t target.Target, q inspect.WhoCanQuery) ([]inspect.Holder, error) {
	var out []inspect.Holder
	err := r.hub.call(ctx, r.name, agent.JobWhoCan, agent.WhoCanJob{Target: t, Query: q}, &out)
	return out, err
}

func (r *remote) Column(ctx context.Context, t target.Target, database string, table uint32, attnum int16) (inspect.Column, error) {
	var out inspect.Column
	err := r.hub.call(ctx, r.name, agent.JobColumn, agent.ColumnJob{Target: t, Database: database, Table: table, Attnum: attnum}, &out)
	return out, err
}

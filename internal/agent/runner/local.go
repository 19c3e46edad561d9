// Package runner is the agent's side of stile's agents: Local runs jobs in
// its own process (the server's built-in agent, and every job a remote agent
// is sent), and Dial is the remote agent's client, which dials the server's
// hub (agent/hub) and runs the jobs it sends with Local.
package runner

import (
	"context"
	"slices"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/target"
)

// Local runs everything in its own process with pgx: the server's built-in
// agent, and the executor of a remote agent's jobs.
type Local struct {
	// Pool keeps the admin connections of the targets Local works on for
	// reuse (target.Target.In); nil keeps none.
	Pool *target.Pool
}

// Local is an agent.Agent.
var _ agent.Agent = Local{}

// Name returns "local".
func (Local) Name() string { return agent.LocalName }

// Online is always true.
func (Local) Online() bool { return true }

// Health checks the target.
func (l Local) Health(ctx context.Context, t target.Target) (inspect.Health, error) {
	return inspect.CheckHealth(ctx, t.In(l.Pool))
}

// Plan plans inputs against one catalog read.
func (l Local) Plan(ctx context.Context, t target.Target, inputs []plan.Input) ([]plan.Result, error) {
	return apply.Plan(ctx, t.In(l.Pool), inputs)
}

// ApplyBatch runs jobs with apply.RunBatch.
func (l Local) ApplyBatch(ctx context.Context, jobs []apply.Job, report func(int, apply.Report)) []apply.Report {
	jobs = slices.Clone(jobs)
	for i := range jobs {
		jobs[i].Target = jobs[i].Target.In(l.Pool)
	}
	return apply.RunBatch(ctx, jobs, report)
}

// CheckLogin tries a login.
func (l Local) CheckLogin(ctx context.Context, t target.Target, role, password string) (bool, error) {
	return inspect.CheckLogin(ctx, t.In(l.Pool), role, password)
}

// Discover reads every role of the cluster and what it holds.
func (l Local) Discover(ctx context.Context, t target.Target) (inspect.Discovery, error) {
	return inspect.Discover(ctx, t.In(l.Pool))
}

// WhoCan lists the roles that hold a privilege on a table.
func (l Local) WhoCan(ctx context.Context, t target.Target, q inspect.WhoCanQuery) ([]inspect.Holder, error) {
	return inspect.WhoCan(ctx, t.In(l.Pool), q)
}

// Scopes lists databases and schemas.
func (l Local) Scopes(ctx context.Context, t target.Target) ([]inspect.ScopeDatabase, error) {
	return inspect.ListScopes(ctx, t.In(l.Pool))
}

// Column names a result column.
func (l Local) Column(ctx context.Context, t target.Target, database string, table uint32, attnum int16) (inspect.Column, error) {
	return inspect.ResolveColumn(ctx, t.In(l.Pool), database, table, attnum)
}

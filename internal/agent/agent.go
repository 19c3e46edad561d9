// Package agent defines what stile asks of the process that reaches a
// resource's databases (Agent: plan, apply, health, login checks, streamed
// connections), the built-in agent that does it in-process, the hub remote
// agents dial over a WebSocket, and the remote agent's client.
package agent

import (
	"context"
	"slices"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/target"
)

// Agent runs health checks, plans and applies against targets it can reach.
// Targets carry the admin password: an agent must not log or persist them.
type Agent interface {
	// Name identifies the agent; resources name the agent that serves them.
	Name() string
	// Online reports whether the agent can take work now.
	Online() bool
	Health(ctx context.Context, t target.Target) (inspect.Health, error)
	// Plan inspects the cluster once and plans every input against it.
	Plan(ctx context.Context, t target.Target, inputs []plan.Input) ([]plan.Result, error)
	// ApplyBatch applies jobs, all on one cluster, in order, as one job
	// (apply.RunBatch), calling report with each job's report as it ends
	// (when set), and returns every job's report. It never drops a job: a
	// job it could not run reports why.
	ApplyBatch(ctx context.Context, jobs []apply.Job, report func(int, apply.Report)) []apply.Report
	CheckLogin(ctx context.Context, t target.Target, role, password string) (bool, error)
	// Scopes lists the databases and schemas a role can be scoped to.
	Scopes(ctx context.Context, t target.Target) ([]inspect.ScopeDatabase, error)
	// Column names a result column (masking's column rules).
	Column(ctx context.Context, t target.Target, database string, table uint32, attnum int16) (inspect.Column, error)
}

// LocalName is the built-in agent's name.
const LocalName = "local"

// Local runs everything in its own process with pgx: the server's built-in
// agent, and the executor of a remote agent's jobs.
type Local struct {
	// Pool keeps the admin connections of the targets Local works on for
	// reuse (target.Target.In); nil keeps none.
	Pool *target.Pool
}

// Name returns "local".
func (Local) Name() string { return LocalName }

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

// Scopes lists databases and schemas.
func (l Local) Scopes(ctx context.Context, t target.Target) ([]inspect.ScopeDatabase, error) {
	return inspect.ListScopes(ctx, t.In(l.Pool))
}

// Column names a result column.
func (l Local) Column(ctx context.Context, t target.Target, database string, table uint32, attnum int16) (inspect.Column, error) {
	return inspect.ResolveColumn(ctx, t.In(l.Pool), database, table, attnum)
}

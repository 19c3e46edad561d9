// Package agent defines what stile asks of the process that reaches a
// resource's databases (Agent: plan, apply, health, login checks, streamed
// connections) and the protocol between the two ends of a remote agent's
// WebSocket (protocol.go). The ends live in subpackages that import this one
// and never each other: hub is the server's side (connections, the job
// queue, streams), runner the agent's side (Local, which runs jobs with
// inspect, plan and apply, and Dial, the remote agent's client).
package agent

import (
	"context"

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
	// Discover reads every role of the cluster and what it holds.
	Discover(ctx context.Context, t target.Target) (inspect.Discovery, error)
	// WhoCan lists the roles that hold a privilege on a table.
	WhoCan(ctx context.Context, t target.Target, q inspect.WhoCanQuery) ([]inspect.Holder, error)
	// Column names a result column (masking's column rules).
	Column(ctx context.Context, t target.Target, database string, table uint32, attnum int16) (inspect.Column, error)
}

// LocalName is the built-in agent's name.
const LocalName = "local"

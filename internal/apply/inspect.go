// Package apply runs the work an agent does against a cluster: inspect it,
// check its health, and apply a plan (re-inspect, re-plan, compare the
// checksum, execute, verify, report).
package apply

import (
	"context"
	"slices"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/target"
)

// Request returns the catalog request covering every input: their role
// names and scope databases.
func Request(inputs []plan.Input) catalog.Request {
	var req catalog.Request
	for _, in := range inputs {
		req.Roles = append(req.Roles, in.RoleName)
		for _, sc := range in.Role.ParsedScopes() {
			req.Databases = append(req.Databases, sc.Database)
		}
	}
	slices.Sort(req.Roles)
	slices.Sort(req.Databases)
	req.Roles = slices.Compact(req.Roles)
	req.Databases = slices.Compact(req.Databases)
	return req
}

// Inspect reads one snapshot covering every input: each database is read
// once for the whole batch.
func Inspect(ctx context.Context, t target.Target, inputs []plan.Input) (*catalog.Snapshot, error) {
	conn, err := t.Connect(ctx, t.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return catalog.Inspect(ctx, conn, t, Request(inputs))
}

// Plan inspects the cluster once and plans every input against it.
func Plan(ctx context.Context, t target.Target, inputs []plan.Input) ([]plan.Result, error) {
	snap, err := Inspect(ctx, t, inputs)
	if err != nil {
		return nil, err
	}
	batch := plan.NewBatch(snap)
	out := make([]plan.Result, len(inputs))
	for i, in := range inputs {
		out[i] = batch.Make(in)
	}
	return out, nil
}

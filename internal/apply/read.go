package apply

import (
	"context"
	"slices"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/par"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/target"
)

// RequestFor returns the catalog request covering every input: their role
// names and scope databases, and column names when one has strict columns.
func RequestFor(inputs []plan.Input) inspect.Request {
	var req inspect.Request
	for _, in := range inputs {
		req.Roles = append(req.Roles, in.RoleName)
		req.Attributes = req.Attributes || len(in.Strict) > 0
		for _, sc := range in.Scopes {
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
// once for the whole batch. Connection and cluster-read errors are returned;
// a database that cannot be read keeps its error in the snapshot.
func Inspect(ctx context.Context, t target.Target, inputs []plan.Input) (*catalog.Snapshot, error) {
	conn, err := t.Borrow(ctx, t.Database)
	if err != nil {
		return nil, err
	}
	snap, err := inspect.Read(ctx, conn, t, RequestFor(inputs))
	t.Return(t.Database, conn, err == nil)
	return snap, err
}

// Plan inspects the cluster once and plans every input against it: what an
// agent runs for a plan job. Its errors are Inspect's.
func Plan(ctx context.Context, t target.Target, inputs []plan.Input) ([]plan.Result, error) {
	snap, err := Inspect(ctx, t, inputs)
	if err != nil {
		return nil, err
	}
	batch := plan.NewBatch(snap)
	out := make([]plan.Result, len(inputs))
	// The plans only read the snapshot and its index: one per core.
	par.Each(len(inputs), func(i int) { out[i] = batch.Make(inputs[i]) })
	return out, nil
}

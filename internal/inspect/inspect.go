// Package inspect reads a live cluster: the catalog a plan needs into a
// catalog.Snapshot (a fixed handful of queries per database, kept in
// sql/*.sql), what the admin can do (health), and whether a login works.
// It is the only package between the planner and PostgreSQL.
package inspect

import (
	"context"
	"slices"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/target"
)

// RequestFor returns the catalog request covering every input: their role
// names and scope databases, and column names when one has strict columns.
func RequestFor(inputs []plan.Input) Request {
	var req Request
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

// ForInputs reads one snapshot covering every input: each database is read
// once for the whole batch.
func ForInputs(ctx context.Context, t target.Target, inputs []plan.Input) (*catalog.Snapshot, error) {
	conn, err := t.Borrow(ctx, t.Database)
	if err != nil {
		return nil, err
	}
	snap, err := Read(ctx, conn, t, RequestFor(inputs))
	t.Return(t.Database, conn, err == nil)
	return snap, err
}

// Plan inspects the cluster once and plans every input against it.
func Plan(ctx context.Context, t target.Target, inputs []plan.Input) ([]plan.Result, error) {
	snap, err := ForInputs(ctx, t, inputs)
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

// ScopeDatabase is a database a scope can name, with its user schemas.
type ScopeDatabase struct {
	Name    string   `json:"name"`
	Schemas []string `json:"schemas"`
	// Extension lists the schemas that belong to an extension: a database
	// scope skips them.
	Extension []string `json:"extension_schemas,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// ListScopes lists the databases that take connections (templates
// excluded) and their user schemas: what the role wizard offers as scopes.
func ListScopes(ctx context.Context, t target.Target) ([]ScopeDatabase, error) {
	conn, err := t.Connect(ctx, t.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	snap, err := ReadCluster(ctx, conn, nil)
	if err != nil {
		return nil, err
	}
	var out []ScopeDatabase
	for i := range snap.Databases {
		d := &snap.Databases[i]
		if d.IsTemplate || !d.AllowConn {
			continue
		}
		sd := ScopeDatabase{Name: d.Name, Schemas: []string{}}
		dc, err := t.Connect(ctx, d.Name)
		if err == nil {
			err = ReadSchemas(ctx, dc, d)
			dc.Close(context.WithoutCancel(ctx))
		}
		if err != nil {
			sd.Error = err.Error()
		}
		for _, s := range d.Schemas {
			if s.Extension {
				sd.Extension = append(sd.Extension, s.Name)
			} else {
				sd.Schemas = append(sd.Schemas, s.Name)
			}
		}
		out = append(out, sd)
	}
	return out, nil
}

// Package inspect reads a live cluster: the catalog a plan needs into a
// catalog.Snapshot (a fixed handful of queries per database, kept in
// sql/*.sql), what the admin can do (health), and whether a login works.
// It reads and never plans: apply reads for the planner (apply.Inspect,
// apply.Plan), and the planner never reaches PostgreSQL.
package inspect

import (
	"context"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/target"
)

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
			sd.Error = errs.Public(nil, err, "database", d.Name)
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

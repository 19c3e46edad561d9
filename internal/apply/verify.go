package apply

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/plan"
)

// verify re-reads, inside the block's transaction, the catalog this block
// changed and re-plans: the block must now be empty, or it rolls back.
// PostgreSQL reports some no-op GRANTs and REVOKEs as success; this is what
// catches them.
func (r *runner) verify(ctx context.Context, tx pgx.Tx, database string) error {
	req := RequestFor([]plan.Input{r.job.Input})
	snap, err := inspect.ReadCluster(ctx, tx, req.Roles)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	for i := range snap.Databases {
		d := &snap.Databases[i]
		if old, ok := r.snap.Database(d.Name); ok && old.Inspected {
			d.Inspected, d.Error, d.Schemas, d.DefaultACLs, d.Unmanaged, d.Attributes = true, "", old.Schemas, old.DefaultACLs, old.Unmanaged, old.Attributes
		}
		if d.Name == database && database != "" {
			if err := inspect.ReadDatabaseIn(ctx, tx, d, req, touched(r.snap, r.job.Input, database)); err != nil {
				return fmt.Errorf("verify: %w", err)
			}
		}
	}
	res := plan.Make(snap, r.verifyInput())
	if b, left := blockFor(res, database); left {
		return fmt.Errorf("verify: after the block the role still differs from the desired state; still to do: %s", strings.Join(plan.SQL(b.Steps), "; "))
	}
	r.logf("-- verified: the role's ACL rows here equal the desired state")
	if database != "" {
		r.snap = snap
	}
	return nil
}

// touched returns the schemas of database db that a block of in's role
// can change, for its verification to re-read: the role's scopes there, and
// every schema where snap shows the role owning, holding or granting
// something. It returns nil (every schema) when a scope is the whole
// database or the role is being retired, or when snap did not read db.
func touched(snap *catalog.Snapshot, in plan.Input, db string) []string {
	if in.Role.Retire {
		return nil
	}
	out := []string{}
	for _, sc := range in.Scopes {
		if sc.Database != db {
			continue
		}
		if sc.Schema == "" {
			return nil
		}
		out = append(out, sc.Schema)
	}
	d, ok := snap.Database(db)
	if !ok || !d.Inspected {
		return nil
	}
	role := in.RoleName
	mentions := func(acl []catalog.ACLItem) bool {
		return slices.ContainsFunc(acl, func(a catalog.ACLItem) bool { return a.Grantee == role || a.Grantor == role })
	}
	for _, s := range d.Schemas {
		hit := s.Owner == role || mentions(s.ACL)
		for _, rel := range s.Relations {
			hit = hit || rel.Owner == role || mentions(rel.ACL) ||
				slices.ContainsFunc(rel.Columns, func(c catalog.ColumnACL) bool { return c.Grantee == role || c.Grantor == role })
		}
		for _, rt := range s.Routines {
			hit = hit || rt.Owner == role || mentions(rt.ACL)
		}
		if hit {
			out = append(out, s.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

package apply

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/plan"
)

// verify re-reads, once for all of live, the catalog their blocks
// changed, and re-plans each: an item whose block is not empty now failed.
// PostgreSQL reports some no-op GRANTs and REVOKEs as success; this is
// what catches them. A failed item is rolled back to its savepoint, and the
// items after it in the transaction, rolled back with it, run again; then
// all are verified again. It returns the items that stand.
func (x *txn) verify(ctx context.Context, live []*item) ([]*item, error) {
	for len(live) > 0 {
		snap, err := x.read(ctx, live)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		pb := plan.NewBatch(snap)
		first, bad := -1, 0
		for i, it := range live {
			if b, ok := blockFor(pb.Make(it.r.verifyInput()), x.ph.db); ok {
				if first < 0 {
					first = i
				}
				bad++
				it.fail(x.ph, errs.New(errs.Failed, "verify: after the block the role still differs from the desired state; still to do: %s", strings.Join(plan.SQL(b.Steps), "; ")))
			}
		}
		if first < 0 {
			for _, it := range live {
				it.r.logf("-- verified: the role's ACL rows here equal the desired state")
			}
			return live, nil
		}
		if _, err := x.bc.conn.Exec(ctx, "ROLLBACK TO SAVEPOINT "+live[first].savepoint()); err != nil {
			return nil, fmt.Errorf("ROLLBACK TO SAVEPOINT: %w", err)
		}
		stand := slices.Clone(live[:first])
		for _, it := range live[first:] {
			if it.failed {
				it.r.logf("ROLLBACK TO SAVEPOINT %s;", live[first].savepoint())
				continue
			}
			it.r.logf("-- %d item(s) of this transaction failed verification; rolled back with the first of them, this block runs again", bad)
			if err := x.runItem(ctx, it); err != nil {
				return nil, err
			}
			if !it.failed {
				stand = append(stand, it)
			}
		}
		live = stand
	}
	return live, nil
}

// read re-reads, inside the transaction, what the plans of items need:
// the cluster's roles, and the phase's database (the schemas the items can
// touch there); other databases are the batch's read.
func (x *txn) read(ctx context.Context, items []*item) (*catalog.Snapshot, error) {
	inputs := make([]plan.Input, len(items))
	for i, it := range items {
		inputs[i] = it.r.job.Input
	}
	req := RequestFor(inputs)
	conn := x.bc.conn
	snap, err := inspect.ReadCluster(ctx, conn, req.Roles)
	if err != nil {
		return nil, err
	}
	base := items[0].r.snap
	var only []string
	if x.ph.db != "" {
		only = []string{}
		for _, in := range inputs {
			s := touched(base, in, x.ph.db)
			if s == nil {
				only = nil
				break
			}
			only = append(only, s...)
		}
		if only != nil {
			slices.Sort(only)
			only = slices.Compact(only)
		}
	}
	for i := range snap.Databases {
		d := &snap.Databases[i]
		if old, ok := base.Database(d.Name); ok && old.Inspected {
			d.Inspected, d.Error, d.Schemas, d.DefaultACLs, d.Unmanaged, d.Attributes = true, "", old.Schemas, old.DefaultACLs, old.Unmanaged, old.Attributes
		}
		if x.ph.db != "" && d.Name == x.ph.db {
			if err := inspect.ReadDatabaseIn(ctx, conn, snap, d, req, only); err != nil {
				return nil, err
			}
		}
	}
	return snap, nil
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

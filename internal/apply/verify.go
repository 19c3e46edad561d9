package apply

import (
	"slices"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/plan"
)

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

package plan

import (
	"slices"

	"github.com/stile-dev/stile/internal/catalog"
)

// What applying a plan changes that other roles' plans read. A batch plans
// every entry against one catalog read; once an entry whose plan reaches
// others has applied, the entries after it are re-planned against a fresh
// read (apply.RunBatch), since their plans may no longer hold.
//
// A role's plan reads, besides its own ACL entries: who may create in its
// schemas (owners and CREATE holders), the catalog rows of the roles it
// acts as or for (owners, grantors, creators, members), and which of those
// lack USAGE on a schema (catalog.Schema.NoUsage). A managed role's plan
// changes others' view of these through: CREATE on a schema; USAGE on a
// schema where it owns or granted objects; its memberships, INHERIT or
// SUPERUSER; REVOKE … CASCADE, which takes away what it granted to others;
// and its retirement. Grants and revokes of its own privileges, its
// password and its other attributes reach no one.

// reaches records that the plan changes what other roles' plans read.
func (p *planner) reaches() { p.reach = true }

// actsIn reports whether the role owns an object of s or granted a
// privilege on one: its USAGE on s is then something others' plans read.
func (p *planner) actsIn(s *catalog.Schema) bool {
	granted := func(acl []catalog.ACLItem) bool {
		return slices.ContainsFunc(acl, func(a catalog.ACLItem) bool { return a.Grantor == p.role })
	}
	for _, r := range s.Relations {
		if r.Owner == p.role || granted(r.ACL) || slices.ContainsFunc(r.Columns, func(c catalog.ColumnACL) bool { return c.Grantor == p.role }) {
			return true
		}
	}
	for _, r := range s.Routines {
		if r.Owner == p.role || granted(r.ACL) {
			return true
		}
	}
	return false
}

// schemaReach records whether the statements planned from d, the diff of
// the role's privileges on schema s, reach other roles' plans.
func (p *planner) schemaReach(s *catalog.Schema, d objDiff) {
	touched := append(slices.Clone(d.missing), d.grantOpt...)
	for _, privs := range d.extra {
		touched = append(touched, privs...)
	}
	if slices.Contains(touched, "CREATE") || (slices.Contains(touched, "USAGE") && p.actsIn(s)) {
		p.reaches()
	}
}

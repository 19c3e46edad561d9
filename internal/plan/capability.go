package plan

import (
	"maps"
	"slices"
	"strings"

	"github.com/stile-dev/stile/internal/sqlq"
)

// What a non-superuser admin can do, and the SQL that gives it what it
// lacks. Capability gaps fail the item at plan time with that SQL, so an
// apply never starts what it cannot finish.

// membershipNeed is what the admin needs of its membership in a role: its
// privileges (INHERIT on 16+) or the right to SET ROLE to it (SET on 16+).
// Before 16 any membership gives both.
type membershipNeed struct{ inherit, set bool }

// need records that the admin needs a membership in role.
func (p *planner) need(role string, inherit, set bool) {
	if p.needs == nil {
		p.needs = map[string]*membershipNeed{}
	}
	n := p.needs[role]
	if n == nil {
		n = &membershipNeed{}
		p.needs[role] = n
	}
	n.inherit = n.inherit || inherit
	n.set = n.set || set
}

// membershipFixes renders the recorded needs, one GRANT per role. A role
// the admin must be able to SET ROLE to that is also a creator it cannot
// set default privileges for gets INHERIT as well: one GRANT fixes both.
func (p *planner) membershipFixes() []string {
	var out []string
	for _, role := range slices.Sorted(maps.Keys(p.needs)) {
		n := p.needs[role]
		n.inherit = n.inherit || p.uncovered[role]
		stmt := "GRANT " + sqlq.Ident(role) + " TO " + sqlq.Ident(p.admin)
		if p.srv.MembershipOptions() {
			var opts []string
			if n.inherit {
				opts = append(opts, "INHERIT TRUE")
			}
			if n.set {
				opts = append(opts, "SET TRUE")
			}
			stmt += " WITH " + strings.Join(opts, ", ")
		}
		out = append(out, stmt+";")
	}
	return out
}

// resolve maps pg_database_owner to the owner of the database being
// planned: membership in it is per database.
func (p *planner) resolve(role string) string {
	if role == "pg_database_owner" && p.curDB != nil {
		return p.curDB.Owner
	}
	return role
}

// canActFor reports whether the admin has the privileges of owner (an
// INHERIT membership chain, pg_has_role USAGE). It records the fix if not.
func (p *planner) canActFor(owner string) bool {
	owner = p.resolve(owner)
	if p.super || owner == p.admin {
		return true
	}
	if r, ok := p.roles[owner]; ok && r.AdminUsage {
		return true
	}
	p.need(owner, true, false)
	return false
}

// canCreateDefaultsFor reports whether the admin may run ALTER DEFAULT
// PRIVILEGES FOR ROLE creator: any membership on 15, an INHERIT one on 16+.
func (p *planner) canCreateDefaultsFor(creator string) bool {
	creator = p.resolve(creator)
	if p.super || creator == p.admin {
		return true
	}
	r, ok := p.roles[creator]
	if !ok {
		// A declared creator that does not exist yet: on 16+ the admin
		// creates it with createrole_self_grant 'set, inherit', so it will
		// have its privileges; on 15 it will not be a member.
		return p.declared(creator) && p.srv.CreateRoleIsScoped()
	}
	if !p.srv.MembershipOptions() {
		return r.AdminMember
	}
	return r.AdminUsage
}

// declared reports whether role is a creator declared in the same batch.
func (p *planner) declared(role string) bool {
	for _, dc := range p.in.Creators {
		if dc.Role == role {
			return true
		}
	}
	return false
}

// canSetRole reports whether the admin can SET ROLE to role: any membership
// before 16, one WITH SET TRUE on 16+.
func (p *planner) canSetRole(role string) bool {
	role = p.resolve(role)
	if p.super || role == p.admin {
		return true
	}
	r, ok := p.roles[role]
	return ok && r.AdminSet
}

// asOwner makes stmts, GRANTs or REVOKEs on an object owned by owner, run as
// the owner, so that PostgreSQL records the owner as the grantor (and a
// REVOKE removes what the owner granted). A superuser or the owner itself
// acts as the owner already. Any other role's GRANT is recorded under the
// first role it inherits that holds the grant option (select_best_grantor in
// src/backend/catalog/aclchk.c), which can be a third party older than the
// owner, or on 16+ a managed role the admin inherits through
// createrole_self_grant; the verify step would then see a third-party grant.
// So a non-superuser admin runs SET ROLE owner first; it records the fix
// when the admin cannot.
func (p *planner) asOwner(owner string, steps ...Step) []Step {
	if p.super || owner == p.admin {
		return steps
	}
	if !p.canSetRole(owner) {
		p.need(p.resolve(owner), false, true)
	}
	return p.as(owner, "as the owner, so PostgreSQL records it as the grantor", steps...)
}

// as wraps steps in SET ROLE role … RESET ROLE. While a schema's objects
// are planned, it notes role in p.lookups: statements that name an object
// of the schema need USAGE on it (planSchema lends it to roles without).
func (p *planner) as(role, reason string, steps ...Step) []Step {
	if p.lookups != nil {
		p.lookups[role] = true
	}
	out := make([]Step, 0, len(steps)+2)
	out = append(out, give("SET ROLE "+sqlq.Ident(role), reason))
	out = append(out, steps...)
	return append(out, give("RESET ROLE", ""))
}

// collapseRoleSwitches drops a RESET ROLE that a SET ROLE to the same role
// follows at once: consecutive statements run as one owner read as one run.
func collapseRoleSwitches(steps []Step) []Step {
	out := steps[:0:0]
	current := ""
	for i := 0; i < len(steps); i++ {
		s := steps[i].SQL
		if s == "RESET ROLE" && i+1 < len(steps) && current != "" && steps[i+1].SQL == current {
			i++
			continue
		}
		switch {
		case strings.HasPrefix(s, "SET ROLE "):
			current = s
		case s == "RESET ROLE":
			current = ""
		}
		out = append(out, steps[i])
	}
	return out
}

package plan

import (
	"maps"
	"slices"
	"strings"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/sqlq"
)

// defaclKinds maps pg_default_acl.defaclobjtype to its SQL keyword.
var defaclKinds = map[string]string{"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}

// defaclOrder is the fixed order in which object types are planned.
var defaclOrder = []string{"r", "S", "f", "T", "n"}

// creators returns the roles whose future objects in s should get the
// role's privileges: the schema owner (pg_database_owner resolved to the
// database owner), every owner of a non-extension object in s, and every
// role holding CREATE on s directly. pg_database_owner stays a creator only
// when it owns objects: its default privileges fire only for objects created
// while current_user is pg_database_owner. Objects created by anyone else (for
// example a migration role that hands ownership over afterwards) need a
// re-plan.
func (p *planner) creators(d *catalog.Database, s *catalog.Schema) []string {
	set := map[string]bool{}
	owner := s.Owner
	if owner == "pg_database_owner" {
		owner = d.Owner
	}
	set[owner] = true
	for _, r := range s.Relations {
		if !r.Extension {
			set[r.Owner] = true
		}
	}
	for _, r := range s.Routines {
		if !r.Extension {
			set[r.Owner] = true
		}
	}
	for _, c := range s.CreateHolders {
		if c == "pg_database_owner" {
			c = d.Owner
		}
		set[c] = true
	}
	for _, dc := range p.in.Creators {
		if declaredOn(dc, d, s) {
			set[dc.Role] = true
		}
	}
	delete(set, p.role)
	return slices.Sorted(maps.Keys(set))
}

// declaredOn reports whether dc's scopes cover schema s of database d.
func declaredOn(dc DeclaredCreator, d *catalog.Database, s *catalog.Schema) bool {
	for _, sc := range dc.Scopes {
		if sc.Database != d.Name {
			continue
		}
		if sc.Schema == s.Name || (sc.Schema == "" && !s.Extension && !sc.Excludes(s.Name)) {
			return true
		}
	}
	return false
}

// planDefaults converges the default privileges that grant to the role in
// schema s: for each creator, the role's privileges on future tables,
// sequences and routines; nothing else. Rows for a creator the admin cannot
// act for are still the role's state: what they hold is in the document and
// the checksum, what they grant too much fails the item with the fix, and
// what they miss is reported as an uncovered creator.
func (p *planner) planDefaults(d *catalog.Database, s *catalog.Schema, in bool, st *ScopeState) (stmts []Step, held, missing, extra int) {
	type key struct{ creator, objtype string }
	want := map[key][]string{}
	uncovered := map[string]bool{}
	if in {
		st.Creators = p.creators(d, s)
		for _, c := range st.Creators {
			if !p.canCreateDefaultsFor(c) {
				uncovered[c] = true
				if p.uncovered == nil {
					p.uncovered = map[string]bool{}
				}
				p.uncovered[p.resolve(c)] = true
				p.state.UncoveredCreators = append(p.state.UncoveredCreators, d.Name+"."+s.Name+": "+c)
			}
			tables := p.tablePrivs
			if p.strictIn(d.Name, s.Name) {
				tables = slices.DeleteFunc(slices.Clone(tables), func(x string) bool { return x == "SELECT" })
			}
			for objtype, privs := range map[string][]string{"r": tables, "S": p.seqPrivs, "f": p.routinePrivs} {
				if len(privs) > 0 {
					want[key{c, objtype}] = privs
				}
			}
		}
		if p.strictIn(d.Name, s.Name) && slices.Contains(p.tablePrivs, "SELECT") {
			p.warn("%s.%s: strict column rules apply here, so default privileges leave SELECT out: a new table is readable after the next apply (the drift check reports it)", d.Name, s.Name)
		}
		if len(uncovered) > 0 {
			p.warn("%s.%s: the admin cannot set default privileges for %s; objects they create will not be covered", d.Name, s.Name, strings.Join(slices.Sorted(maps.Keys(uncovered)), ", "))
		}
	}
	have := map[key][]catalog.ACLItem{}
	for _, row := range d.DefaultACLs {
		if row.Schema == s.Name {
			have[key{row.Creator, row.ObjType}] = row.ACL
		}
	}
	creators := map[string]bool{}
	for k := range want {
		creators[k.creator] = true
	}
	for k := range have {
		creators[k.creator] = true
	}
	for _, c := range slices.Sorted(maps.Keys(creators)) {
		for _, objtype := range defaclOrder {
			k := key{c, objtype}
			if want[k] == nil && have[k] == nil {
				continue
			}
			o := object{kind: defaclKinds[objtype], owner: c, acl: have[k], display: d.Name + "." + s.Name + ": FOR ROLE " + c + " ON " + defaclKinds[objtype]}
			diff := p.diff(o, want[k])
			if all := append(slices.Clone(diff.held), diff.extraAll...); len(all) > 0 {
				p.state.DefaultPrivileges = append(p.state.DefaultPrivileges, o.label()+": "+strings.Join(all, ", "))
			}
			if uncovered[c] {
				// Nothing can be granted FOR ROLE c: what is missing is the
				// uncovered creator's warning, not a change.
				diff.missing = nil
			}
			held += len(diff.held)
			missing += len(diff.missing)
			extra += len(diff.extraAll) + len(diff.grantOpt)
			if !diff.changes() {
				continue
			}
			if !p.canCreateDefaultsFor(c) {
				p.fail("%s: %s granted to the role by default privileges, which the admin cannot change", o.label(), strings.Join(append(slices.Clone(diff.extraAll), diff.grantOpt...), ", "))
				p.need(p.resolve(c), true, false)
				continue
			}
			if _, ok := p.roles[c]; !ok {
				if p.requires == nil {
					p.requires = map[string]bool{}
				}
				p.requires[c] = true
			}
			stmts = append(stmts, p.defaultStmts(c, s.Name, o.kind, diff)...)
		}
	}
	return stmts, held, missing, extra
}

// planGlobalDefaults revokes every global (no IN SCHEMA) default privilege
// that grants to the role: a schema-level REVOKE cannot override one.
func (p *planner) planGlobalDefaults(d *catalog.Database) []Step {
	var stmts []Step
	for _, row := range d.DefaultACLs {
		if row.Schema != "" {
			continue
		}
		o := object{kind: defaclKinds[row.ObjType], owner: row.Creator, acl: row.ACL, display: d.Name + ": FOR ROLE " + row.Creator + " ON " + defaclKinds[row.ObjType] + " (global)"}
		diff := p.diff(o, nil)
		if !diff.changes() {
			continue
		}
		p.state.DefaultPrivileges = append(p.state.DefaultPrivileges, o.label()+": "+strings.Join(diff.extraAll, ", "))
		if !p.canCreateDefaultsFor(row.Creator) {
			p.fail("%s: %s granted to the role by default privileges, which the admin cannot change", o.label(), strings.Join(diff.extraAll, ", "))
			p.need(p.resolve(row.Creator), true, false)
			continue
		}
		stmts = append(stmts, p.defaultStmts(row.Creator, "", o.kind, diff)...)
	}
	return stmts
}

func (p *planner) defaultStmts(creator, schema, kind string, d objDiff) []Step {
	prefix := "ALTER DEFAULT PRIVILEGES FOR ROLE " + sqlq.Ident(creator)
	if schema != "" {
		prefix += " IN SCHEMA " + sqlq.Ident(schema)
	}
	var out []Step
	if len(d.grantOpt) > 0 {
		out = append(out, take(prefix+" REVOKE GRANT OPTION FOR "+strings.Join(d.grantOpt, ", ")+" ON "+kind+" FROM "+p.ident()+" CASCADE", "default grant option, never declared"))
	}
	var revoke []string
	for _, g := range slices.Sorted(maps.Keys(d.extra)) {
		revoke = append(revoke, d.extra[g]...)
	}
	if len(revoke) > 0 {
		spec.SortPrivileges(revoke)
		revoke = slices.Compact(revoke)
		why := "default privileges not declared for objects " + creator + " creates here"
		if schema == "" {
			why = "global default privileges of " + creator + ", never declared"
		}
		out = append(out, take(prefix+" REVOKE "+strings.Join(revoke, ", ")+" ON "+kind+" FROM "+p.ident(), why))
	}
	if len(d.missing) > 0 {
		out = append(out, give(prefix+" GRANT "+strings.Join(d.missing, ", ")+" ON "+kind+" TO "+p.ident(), "objects "+creator+" creates here get the declared privileges"))
	}
	return out
}

package plan

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/sqlq"
)

// planRole converges the role's existence, attributes and password.
// CREATE ROLE names only the attributes wanted true; ALTER ROLE names only
// those that differ. A managed role logs in; a group does not and has no
// password; an adopted role keeps its password until a rotation, and the
// REPLICATION and BYPASSRLS its declaration says it keeps.
func (p *planner) planRole() {
	r := p.in.Role
	group := r.Type == spec.Group
	pw := "PASSWORD " + sqlq.Literal(PasswordPlaceholder)
	if !p.exists {
		if r.Adopt {
			p.fail("role %q does not exist: there is nothing to adopt (declare it without adopt: true to create it)", p.role)
			return
		}
		if p.srv.CreateRoleIsScoped() && !p.super {
			// A CREATEROLE admin gets only an ADMIN membership in the roles it
			// creates; it needs INHERIT to set their default privileges.
			p.roleStmts = append(p.roleStmts, give("SET createrole_self_grant = 'set, inherit'", "a CREATEROLE admin needs INHERIT on the roles it creates to set their default privileges"))
		}
		if group {
			p.roleStmts = append(p.roleStmts, give("CREATE ROLE "+p.ident()+" WITH NOLOGIN INHERIT", "the group does not exist"))
			return
		}
		p.roleStmts = append(p.roleStmts, give("CREATE ROLE "+p.ident()+" WITH LOGIN INHERIT "+pw, "the role does not exist"))
		p.needsPW = true
		return
	}
	t := p.target
	p.state.Attributes = map[string]any{
		"superuser": t.Superuser, "inherit": t.Inherit, "createrole": t.CreateRole,
		"createdb": t.CreateDB, "login": t.Login, "replication": t.Replication,
		"bypassrls": t.BypassRLS, "connection_limit": t.ConnLimit, "valid_until": t.ValidUntil,
	}
	p.checkTakeover()
	if !p.super {
		for _, a := range []struct {
			on, kept bool
			name     string
		}{{t.Superuser, false, "SUPERUSER"}, {t.Replication, r.Replication, "REPLICATION"}, {t.BypassRLS, r.BypassRLS, "BYPASSRLS"}} {
			if a.on && !a.kept {
				p.fail("role %q has %s, which only a superuser can remove", p.role, a.name)
			}
			if !a.on && a.kept {
				p.fail("role %q is declared to keep %s, which it does not have and only a superuser can give", p.role, a.name)
			}
		}
		if p.srv.CreateRoleIsScoped() && t.CreateDB && !p.srv.CreateDB {
			// "Only roles with the CREATEDB attribute may change the
			// CREATEDB attribute" (16+).
			p.fail("role %q has CREATEDB, which only a role with CREATEDB may remove", p.role)
			p.fixes = append(p.fixes, "ALTER ROLE "+sqlq.Ident(p.admin)+" CREATEDB;")
		}
		if p.srv.CreateRoleIsScoped() && !t.AdminOption {
			p.fixes = append(p.fixes, "GRANT "+p.ident()+" TO "+sqlq.Ident(p.admin)+" WITH ADMIN TRUE;")
		}
	}
	var attrs []string
	flag := func(have, want bool, on, off string) {
		if have != want {
			if want {
				attrs = append(attrs, on)
			} else {
				attrs = append(attrs, off)
			}
		}
	}
	if t.Superuser || !t.Inherit {
		p.reaches() // what the role may do through others changes
	}
	flag(t.Superuser, false, "SUPERUSER", "NOSUPERUSER")
	flag(t.CreateDB, false, "CREATEDB", "NOCREATEDB")
	flag(t.CreateRole, false, "CREATEROLE", "NOCREATEROLE")
	flag(t.Inherit, true, "INHERIT", "NOINHERIT")
	flag(t.Login, !group, "LOGIN", "NOLOGIN")
	flag(t.Replication, r.Replication, "REPLICATION", "NOREPLICATION")
	flag(t.BypassRLS, r.BypassRLS, "BYPASSRLS", "NOBYPASSRLS")
	if t.ConnLimit != -1 {
		attrs = append(attrs, "CONNECTION LIMIT -1")
	}
	if t.ValidUntil != "" && t.ValidUntil != "infinity" {
		attrs = append(attrs, "VALID UNTIL 'infinity'")
	}
	var why []string
	if len(attrs) > 0 {
		want := "LOGIN INHERIT"
		if group {
			want = "NOLOGIN INHERIT"
		}
		for _, a := range []struct {
			kept bool
			name string
		}{{r.Replication, "REPLICATION"}, {r.BypassRLS, "BYPASSRLS"}} {
			if a.kept {
				want += " " + a.name
			}
		}
		why = append(why, "attributes differ from "+want+" and no others")
	}
	switch {
	case group:
	case r.RotatePassword || (!p.in.HasPassword && !r.Adopt):
		why = append(why, ReasonNewPassword)
		attrs = append(attrs, pw)
		p.needsPW = true
		if !p.in.HasPassword {
			p.warn("stile holds no password for this role: the plan sets a new one")
		}
	case !p.in.HasPassword:
		p.warn("stile holds no password for this adopted role: it keeps its own until a rotation (stile roles rotate)")
	}
	if len(attrs) > 0 {
		p.roleStmts = append(p.roleStmts, give("ALTER ROLE "+p.ident()+" WITH "+strings.Join(attrs, " "), strings.Join(why, "; ")))
	}
}

// checkTakeover refuses to take over an existing role that stile does not
// manage unless the declaration adopts it, and refuses to adopt a
// superuser.
func (p *planner) checkTakeover() {
	r := p.in.Role
	switch {
	case r.Adopt && p.target.Superuser:
		p.fail("role %q is a superuser: stile does not adopt superusers", p.role)
	case r.Name != "" && !r.Adopt && !p.in.Kept:
		p.fail("role %q exists and stile does not manage it: declare adopt: true to take it over", p.role)
	case r.Adopt && p.target.Replication && !r.Replication:
		p.fail("role %q has REPLICATION: declare replication: true to adopt it as it is", p.role)
	case r.Adopt && p.target.BypassRLS && !r.BypassRLS:
		p.fail("role %q has BYPASSRLS: declare bypassrls: true to adopt it as it is", p.role)
	}
}

// planMemberships converges the role's own memberships: exactly its
// member_of groups for a managed role or a group (none when it declares
// none), exactly source_role for an external one, each with INHERIT (on
// 16+, per grant) and without ADMIN. On 16+ each pg_auth_members row is
// revoked with its own grantor, or the REVOKE warns and changes nothing. A
// declared group that does not exist yet is required: its plan is applied
// first.
func (p *planner) planMemberships() {
	want := map[string]bool{}
	src := p.in.Role.SourceRole
	if src != "" {
		want[src] = true
		if _, ok := p.roles[src]; !ok {
			p.fail("source role %q does not exist", src)
			return
		}
	}
	for _, g := range p.in.MemberOf {
		want[g] = true
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		r, ok := p.roles[name]
		switch {
		case !ok:
			if p.requires == nil {
				p.requires = map[string]bool{}
			}
			p.requires[name] = true
		case !p.super && p.srv.CreateRoleIsScoped() && !r.AdminOption:
			p.fixes = append(p.fixes, "GRANT "+sqlq.Ident(name)+" TO "+sqlq.Ident(p.admin)+" WITH ADMIN TRUE;")
		case !p.super && r.Superuser:
			p.fail("role %q is a superuser: only a superuser can grant it", name)
		}
	}
	have := map[string]bool{}
	var stmts []Step
	for _, m := range p.snap.Members {
		if m.Role == p.role && m.Member != p.role {
			if !(m.Member == p.admin && m.AdminOption) {
				p.state.Members = append(p.state.Members, m.Member)
			}
			continue
		}
		if m.Member != p.role {
			continue
		}
		p.state.Memberships = append(p.state.Memberships, MembershipState{
			Role: m.Role, Grantor: m.Grantor, Inherit: m.Inherit, Set: m.Set, Admin: m.AdminOption,
		})
		if want[m.Role] && (m.Inherit || !p.srv.MembershipOptions()) && !m.AdminOption {
			have[m.Role] = true
			continue
		}
		stmt := "REVOKE " + sqlq.Ident(m.Role) + " FROM " + p.ident()
		if p.srv.MembershipOptions() {
			stmt += " GRANTED BY " + sqlq.Ident(m.Grantor)
			if !p.canRevokeAs(m.Grantor) {
				p.fail("membership in %q was granted by %q, whose privileges the admin does not have: it cannot revoke it (fix: a superuser runs %s;)", m.Role, m.Grantor, stmt)
				continue
			}
		}
		why := "a membership the declaration does not have"
		switch {
		case src != "":
			why = "the declared membership is in " + src + " alone, with INHERIT"
		case want[m.Role]:
			why = "the declared membership is with INHERIT and without ADMIN"
		}
		stmts = append(stmts, take(stmt, why))
		p.checkRoleAdmin(m.Role)
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if have[name] {
			continue
		}
		stmt := "GRANT " + sqlq.Ident(name) + " TO " + p.ident()
		if p.srv.MembershipOptions() {
			stmt += " WITH INHERIT TRUE"
		}
		why := "the declared group"
		if name == src {
			why = "the declared source role"
		}
		stmts = append(stmts, give(stmt, why))
	}
	if len(p.state.Members) > 0 && p.in.Role.Type != spec.Group {
		p.warn("other roles are members of this role and can use its privileges: %s", strings.Join(p.state.Members, ", "))
	}
	if len(stmts) > 0 {
		p.reaches() // others see the role as a member, a creator, an owner
	}
	p.roleStmts = append(p.roleStmts, dedupe(stmts)...)
}

// canRevokeAs reports whether the admin may REVOKE a membership GRANTED BY
// grantor on 16+: only roles with the privileges of the grantor may
// (check_role_grantor in src/backend/commands/user.c).
func (p *planner) canRevokeAs(grantor string) bool {
	if p.super || grantor == p.admin {
		return true
	}
	r, ok := p.roles[grantor]
	return ok && r.AdminUsage
}

// checkRoleAdmin records the fix when a non-superuser admin on 16+ lacks
// ADMIN on a role whose membership it must revoke.
func (p *planner) checkRoleAdmin(name string) {
	if p.super || !p.srv.CreateRoleIsScoped() {
		return
	}
	if r, ok := p.roles[name]; ok && !r.AdminOption {
		p.fixes = append(p.fixes, "GRANT "+sqlq.Ident(name)+" TO "+sqlq.Ident(p.admin)+" WITH ADMIN TRUE;")
	}
}

// collectUnmanaged lists what pg_shdepend holds for the role that the
// planner does not diff, plus per-database role settings.
func (p *planner) collectUnmanaged() {
	for _, d := range p.snap.Shared {
		if d.Role == p.role {
			p.state.Unmanaged = append(p.state.Unmanaged, d.Object+" ("+depType(d.DepType)+")")
		}
	}
	for _, db := range p.snap.Databases {
		for _, d := range db.Unmanaged {
			if d.Role != p.role {
				continue
			}
			if d.DepType == "o" && d.Schema != "" && p.inScope(db.Name, d.Schema) {
				// A type or domain the role made in its scope is owned
				// there, like its tables: not drift.
				key := spec.Scope{Database: db.Name, Schema: d.Schema}.String()
				st := p.state.ScopeStates[key]
				st.Owned = append(st.Owned, d.Object)
				slices.Sort(st.Owned)
				p.state.ScopeStates[key] = st
				continue
			}
			p.state.Unmanaged = append(p.state.Unmanaged, db.Name+": "+d.Object+" ("+depType(d.DepType)+")")
		}
	}
	for _, s := range p.snap.Settings {
		if s.Role == p.role {
			where := "all databases"
			if s.Database != "" {
				where = "database " + s.Database
			}
			p.state.Unmanaged = append(p.state.Unmanaged, "role setting in "+where+": "+strings.Join(s.Config, ", "))
		}
	}
}

func depType(t string) string {
	switch t {
	case "o":
		return "owner"
	case "a":
		return "privilege"
	case "r":
		return "policy"
	case "i":
		return "initial privilege"
	}
	return "dependency " + strconv.Quote(t)
}

func dedupe(s []Step) []Step {
	seen := map[string]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x.SQL] {
			seen[x.SQL] = true
			out = append(out, x)
		}
	}
	return out
}

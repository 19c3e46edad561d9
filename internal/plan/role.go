package plan

import (
	"slices"
	"strconv"
	"strings"

	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/sqlq"
)

// planRole converges the role's existence, attributes and password.
// CREATE ROLE names only the attributes wanted true; ALTER ROLE names only
// those that differ.
func (p *planner) planRole() {
	pw := "PASSWORD " + sqlq.Literal(PasswordPlaceholder)
	if !p.exists {
		if p.srv.CreateRoleIsScoped() && !p.super {
			// A CREATEROLE admin gets only an ADMIN membership in the roles it
			// creates; it needs INHERIT to set their default privileges.
			p.roleStmts = append(p.roleStmts, give("SET createrole_self_grant = 'set, inherit'", "a CREATEROLE admin needs INHERIT on the roles it creates to set their default privileges"))
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
	if !p.super {
		for _, a := range []struct {
			on   bool
			name string
		}{{t.Superuser, "SUPERUSER"}, {t.Replication, "REPLICATION"}, {t.BypassRLS, "BYPASSRLS"}} {
			if a.on {
				p.fail("role %q has %s, which only a superuser can remove", p.role, a.name)
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
	flag(t.Login, true, "LOGIN", "NOLOGIN")
	flag(t.Replication, false, "REPLICATION", "NOREPLICATION")
	flag(t.BypassRLS, false, "BYPASSRLS", "NOBYPASSRLS")
	if t.ConnLimit != -1 {
		attrs = append(attrs, "CONNECTION LIMIT -1")
	}
	if t.ValidUntil != "" && t.ValidUntil != "infinity" {
		attrs = append(attrs, "VALID UNTIL 'infinity'")
	}
	var why []string
	if len(attrs) > 0 {
		why = append(why, "attributes differ from LOGIN INHERIT and no others")
	}
	if !p.in.HasPassword || p.in.Role.RotatePassword {
		why = append(why, ReasonNewPassword)
		attrs = append(attrs, pw)
		p.needsPW = true
		if !p.in.HasPassword {
			p.warn("stile holds no password for this role: the plan sets a new one")
		}
	}
	if len(attrs) > 0 {
		p.roleStmts = append(p.roleStmts, give("ALTER ROLE "+p.ident()+" WITH "+strings.Join(attrs, " "), strings.Join(why, "; ")))
	}
}

// planMemberships converges the role's own memberships: none for a managed
// role, exactly source_role (with INHERIT on 16+) for an external one. On
// 16+ each pg_auth_members row is revoked with its own grantor, or the
// REVOKE warns and changes nothing.
func (p *planner) planMemberships() {
	src := p.in.Role.SourceRole
	if src != "" {
		sr, ok := p.roles[src]
		switch {
		case !ok:
			p.fail("source role %q does not exist", src)
			return
		case !p.super && p.srv.CreateRoleIsScoped() && !sr.AdminOption:
			p.fixes = append(p.fixes, "GRANT "+sqlq.Ident(src)+" TO "+sqlq.Ident(p.admin)+" WITH ADMIN TRUE;")
		case !p.super && sr.Superuser:
			p.fail("source role %q is a superuser: only a superuser can grant it", src)
		}
	}
	haveSource := false
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
		if m.Role == src && (m.Inherit || !p.srv.MembershipOptions()) && !m.AdminOption {
			haveSource = true
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
		if src != "" {
			why = "the declared membership is in " + src + " alone, with INHERIT"
		}
		stmts = append(stmts, take(stmt, why))
		p.checkRoleAdmin(m.Role)
	}
	if src != "" && !haveSource {
		stmt := "GRANT " + sqlq.Ident(src) + " TO " + p.ident()
		if p.srv.MembershipOptions() {
			stmt += " WITH INHERIT TRUE"
		}
		stmts = append(stmts, give(stmt, "the declared source role"))
	}
	if len(p.state.Members) > 0 {
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

package plan

import (
	"slices"

	"github.com/stile-dev/stile/internal/sqlq"
)

// planRetire removes the role: in every database where it owns or holds
// anything (pg_shdepend), REASSIGN OWNED to the heir (that database's owner
// unless one is named: never a superuser by default, since objects can
// carry code that would then run as the heir) and DROP OWNED, which also
// revokes its privileges on shared objects; then end its sessions and DROP
// ROLE. The database blocks come first.
func (p *planner) planRetire() {
	if !p.exists {
		return // already gone: in sync
	}
	if !p.super {
		p.canActFor(p.role)
		if p.srv.CreateRoleIsScoped() && !p.target.AdminOption {
			p.fixes = append(p.fixes, "GRANT "+p.ident()+" TO "+sqlq.Ident(p.admin)+" WITH ADMIN TRUE;")
		}
	}
	if h := p.in.Role.Heir; h != "" {
		if _, ok := p.roles[h]; !ok {
			p.fail("heir %q does not exist", h)
			return
		}
	}
	for _, d := range p.snap.Shared {
		if d.Role == p.role && d.DepType == "o" {
			p.fail("the role owns %s, which is not in a database: give it another owner first", d.Object)
		}
	}
	for i := range p.snap.Databases {
		d := &p.snap.Databases[i]
		holds := d.HasDependents
		if d.Dependents != nil {
			// Another role of the batch may be what has dependents here.
			holds = slices.Contains(d.Dependents, p.role)
		}
		for _, a := range d.ACL {
			holds = holds || a.Grantee == p.role
		}
		if !holds {
			continue
		}
		if !d.AllowConn || d.Error != "" {
			p.fail("database %q holds objects or grants of the role but cannot be reached", d.Name)
			continue
		}
		heir := p.in.Role.Heir
		if heir == "" {
			heir = d.Owner
		}
		p.curDB = d
		p.canActFor(heir)
		p.curDB = nil
		p.retire = append(p.retire, Block{Database: d.Name, Steps: []Step{
			take("REASSIGN OWNED BY "+p.ident()+" TO "+sqlq.Ident(heir), "what the role owns here goes to "+heir),
			take("DROP OWNED BY "+p.ident(), "its grants and default privileges here are dropped"),
		}})
	}
	p.retire = append(p.retire, Block{Steps: []Step{
		take("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = "+sqlq.Literal(p.role), "its sessions end"),
		take("DROP ROLE "+p.ident(), "the role is retired"),
	}})
	p.reaches()
	p.state.Warnings = append(p.state.Warnings, "retirement: everything the role owns goes to the heir, its grants are dropped, its sessions are ended, and the role is dropped")
}

package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/sqlq"
)

// object is one thing that carries an ACL.
type object struct {
	kind string // DATABASE, SCHEMA, TABLE, SEQUENCE, ROUTINE
	// sql is the rendered, quoted name, and display the name in the plan
	// document. A table or sequence leaves both empty and carries its
	// schema and name: a plan diffs thousands of them and names few in a
	// statement or a document, so ref and label render them on demand.
	sql, display string
	schema, name string
	owner        string
	acl          []catalog.ACLItem
	columns      []catalog.ColumnACL
	// withheld are the columns strict masking rules withhold from the
	// role; selectable the table's other columns, on which it gets
	// column-level SELECT instead of table-level SELECT. Both sorted.
	withheld, selectable []string
}

// ref returns o's name as SQL: quoted, qualified with its schema.
func (o object) ref() string {
	if o.sql != "" {
		return o.sql
	}
	return sqlq.Qualified(o.schema, o.name)
}

// label returns o's name in the plan document.
func (o object) label() string {
	if o.display != "" {
		return o.display
	}
	return o.schema + "." + o.name
}

// strict reports that SELECT on o is granted column by column.
func (o object) strict() bool { return len(o.withheld) > 0 }

// objDiff compares the role's direct ACL entries on an object with the
// desired privileges. A privilege counts as held only when granted by the
// object's owner: a grant made by a third role is extra (revoked as that
// grantor), and the privilege is granted again by the owner.
type objDiff struct {
	held     []string
	missing  []string
	extra    map[string][]string // grantor -> privileges
	cascade  map[string]bool     // grantor -> some extra privilege has grant option
	grantOpt []string            // desired, held with grant option
	extraAll []string            // every extra privilege, for the document
}

func (p *planner) diff(o object, desired []string) objDiff {
	var d objDiff
	for _, a := range o.acl {
		if a.Grantee != p.role {
			continue
		}
		if a.Grantor == o.owner && slices.Contains(desired, a.Privilege) {
			d.held = append(d.held, a.Privilege)
			if a.Grantable {
				d.grantOpt = append(d.grantOpt, a.Privilege)
			}
			continue
		}
		if d.extra == nil {
			d.extra, d.cascade = map[string][]string{}, map[string]bool{}
		}
		d.extra[a.Grantor] = append(d.extra[a.Grantor], a.Privilege)
		d.cascade[a.Grantor] = d.cascade[a.Grantor] || a.Grantable
		d.extraAll = append(d.extraAll, a.Privilege)
	}
	if d.held == nil && d.extra == nil {
		// The role holds nothing here, as on most objects a plan diffs.
		if len(desired) > 0 {
			d.missing = slices.Clone(desired)
		}
		return d
	}
	for _, want := range desired {
		if !slices.Contains(d.held, want) {
			d.missing = append(d.missing, want)
		}
	}
	spec.SortPrivileges(d.held)
	spec.SortPrivileges(d.grantOpt)
	spec.SortPrivileges(d.extraAll)
	d.extraAll = slices.Compact(d.extraAll)
	return d
}

func (d objDiff) changes() bool {
	return len(d.missing) > 0 || len(d.extra) > 0 || len(d.grantOpt) > 0
}

// revokes renders the statements that remove what the role holds on o but
// should not: grant options on desired privileges, privileges the owner
// granted but that are not desired, and everything granted by third roles
// (as that grantor, since a superuser's REVOKE acts as the owner and leaves
// another grantor's entry in place, silently).
func (p *planner) revokes(o object, d objDiff, in bool) []Step {
	if len(d.grantOpt) == 0 && len(d.extra) == 0 {
		return nil
	}
	var out []Step
	on := " ON " + o.kind + " " + o.ref() + " FROM " + p.ident()
	if len(d.grantOpt) > 0 {
		out = append(out, p.asOwner(o.owner, take("REVOKE GRANT OPTION FOR "+strings.Join(d.grantOpt, ", ")+on+" CASCADE", "held with grant option, which is never declared"))...)
		p.warnCascade(o)
	}
	why := "held but not declared"
	if !in {
		why = "held outside the declared scopes"
	}
	for _, grantor := range slices.Sorted(maps.Keys(d.extra)) {
		privs := slices.Clone(d.extra[grantor])
		spec.SortPrivileges(privs)
		privs = slices.Compact(privs)
		stmt := "REVOKE " + strings.Join(privs, ", ") + on
		if d.cascade[grantor] {
			stmt += " CASCADE"
			p.warnCascade(o)
		}
		if grantor == o.owner {
			why := why
			if o.strict() && slices.Contains(privs, "SELECT") {
				why = "table-level SELECT would show what strict masking withholds (" + strings.Join(o.withheld, ", ") + ")"
			}
			out = append(out, p.asOwner(o.owner, take(stmt, why))...)
			continue
		}
		if !p.canSetRole(grantor) {
			p.unrevocable(grantor, "%s on %s %s", strings.Join(privs, ", "), strings.ToLower(o.kind), o.label())
			continue
		}
		third := "granted by " + grantor + ", not by the owner: stile's grants come from the owner"
		if !in {
			third = "granted by " + grantor + ", outside the declared scopes"
		}
		out = append(out, p.as(grantor, "as "+grantor+", who granted it (a superuser's REVOKE would leave it)", take(stmt, third))...)
	}
	return out
}

// unrevocable fails the item: what grantor granted can only be revoked as
// grantor, and the admin cannot SET ROLE to it.
func (p *planner) unrevocable(grantor, format string, args ...any) {
	p.fail("%s was granted by %q, which the admin cannot SET ROLE to: it cannot be revoked", fmt.Sprintf(format, args...), grantor)
	p.need(p.resolve(grantor), false, true)
}

// warnCascade names what a REVOKE … CASCADE on o also removes: the grants
// the role made there with its grant option.
func (p *planner) warnCascade(o object) {
	var made []string
	for _, a := range o.acl {
		if a.Grantor == p.role && a.Grantee != p.role {
			made = append(made, a.Privilege+" to "+a.Grantee)
		}
	}
	slices.Sort(made)
	what := "nothing else: the role made no grants with it"
	if len(made) > 0 {
		p.reaches()
		what = "the grants the role made with it: " + strings.Join(slices.Compact(made), ", ")
	}
	p.warn("%s %s: the role holds grant options; REVOKE … CASCADE also removes %s", strings.ToLower(o.kind), p.qualified(o), what)
}

// qualified names o with its database where it has one.
func (p *planner) qualified(o object) string {
	if p.curDB == nil || o.kind == "DATABASE" {
		return o.label()
	}
	return p.curDB.Name + ": " + o.label()
}

// columnPlan converges the role's column-level grants on a relation. The
// desired state has none, except SELECT, granted by the owner without grant
// option, on o.selectable when strict rules withhold some columns. Revokes
// run before table-level statements, the grant after them: a table-level
// REVOKE SELECT also clears the column SELECT entries (reset), so then every
// selectable column is granted again.
func (p *planner) columnPlan(o object, reset bool) (revokes, grants []Step, extra, missing []string) {
	if len(o.columns) == 0 && len(o.selectable) == 0 {
		return nil, nil, nil, nil
	}
	byGrantor := map[string]map[string][]string{} // grantor -> privilege -> columns
	cascade := map[string]bool{}
	held := map[string]bool{}
	for _, c := range o.columns {
		if c.Grantee != p.role {
			continue
		}
		if c.Privilege == "SELECT" && c.Grantor == o.owner && !c.Grantable && slices.Contains(o.selectable, c.Column) {
			held[c.Column] = true
			continue
		}
		if byGrantor[c.Grantor] == nil {
			byGrantor[c.Grantor] = map[string][]string{}
		}
		byGrantor[c.Grantor][c.Privilege] = append(byGrantor[c.Grantor][c.Privilege], c.Column)
		cascade[c.Grantor] = cascade[c.Grantor] || c.Grantable
		extra = append(extra, c.Privilege+" ("+c.Column+")")
	}
	for _, grantor := range slices.Sorted(maps.Keys(byGrantor)) {
		privs := slices.Sorted(maps.Keys(byGrantor[grantor]))
		spec.SortPrivileges(privs)
		parts := make([]string, 0, len(privs))
		for _, pr := range privs {
			cols := byGrantor[grantor][pr]
			slices.Sort(cols)
			parts = append(parts, pr+" ("+sqlq.Idents(cols)+")")
		}
		stmt := "REVOKE " + strings.Join(parts, ", ") + " ON TABLE " + o.ref() + " FROM " + p.ident()
		if cascade[grantor] {
			stmt += " CASCADE"
			p.reaches()
		}
		why := "column privileges are never declared"
		if o.strict() {
			why = "column privileges other than SELECT on the columns strict rules leave are never declared"
		}
		switch {
		case grantor == o.owner:
			revokes = append(revokes, p.asOwner(o.owner, take(stmt, why))...)
		case p.canSetRole(grantor):
			revokes = append(revokes, p.as(grantor, "as "+grantor+", who granted it", take(stmt, why))...)
		default:
			p.unrevocable(grantor, "column privileges on %s", o.label())
		}
	}
	slices.Sort(extra)
	for _, c := range o.selectable {
		if reset || !held[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		why := "strict masking withholds SELECT on " + strings.Join(o.withheld, ", ") + ": the other columns, one by one"
		grants = p.asOwner(o.owner, give("GRANT SELECT ("+sqlq.Idents(missing)+") ON TABLE "+o.ref()+" TO "+p.ident(), why))
	}
	return revokes, grants, extra, missing
}

// grant renders GRANT privs ON kind names TO role.
func (p *planner) grant(privs []string, kind string, names []string) string {
	return "GRANT " + strings.Join(privs, ", ") + " ON " + kind + " " + strings.Join(names, ", ") + " TO " + p.ident()
}

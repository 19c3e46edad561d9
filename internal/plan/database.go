package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/sqlq"
)

// maxObjectsPerStatement keeps per-object GRANTs readable.
const maxObjectsPerStatement = 50

// planDatabase converges the database's own ACL and, when it was inspected,
// every schema, object and default privilege in it.
func (p *planner) planDatabase(d *catalog.Database) {
	p.curDB = d
	defer func() { p.curDB = nil }()
	var desired []string
	_, scoped := p.scopes[d.Name]
	if scoped {
		desired = []string{"CONNECT"}
		p.notePublic(d.Name, d.Public)
	}
	o := object{kind: "DATABASE", sql: sqlq.Ident(d.Name), display: d.Name, owner: d.Owner, acl: d.ACL}
	diff := p.diff(o, desired)
	if held := append(slices.Clone(diff.held), diff.extraAll...); len(held) > 0 {
		if p.state.Databases == nil {
			p.state.Databases = map[string][]string{}
		}
		spec.SortPrivileges(held)
		p.state.Databases[d.Name] = slices.Compact(held)
	}
	var stmts []Step
	if diff.changes() {
		stmts = append(stmts, p.revokes(o, diff, desired != nil)...)
		if len(diff.missing) > 0 {
			stmts = append(stmts, p.asOwner(d.Owner, give(p.grant(diff.missing, "DATABASE", []string{o.ref()}), "a scope is in this database"))...)
		}
	}
	if !d.AllowConn {
		// ON DATABASE statements run from any database; this one takes no
		// connections, so they go with the role-level block.
		p.roleBlockDBStmts = append(p.roleBlockDBStmts, stmts...)
		return
	}
	if d.Inspected && !d.Attributes && len(p.in.Strict) > 0 && slices.Contains(p.tablePrivs, "SELECT") {
		for _, s := range p.scopes[d.Name] {
			if p.strictIn(d.Name, s) {
				p.fail("database %q was read without its column names, which strict column rules need (is the agent older than the server?)", d.Name)
				break
			}
		}
	}
	if d.Inspected && (scoped || p.holdsIn[d.Name]) {
		// Elsewhere no schema is in scope or held: of a fleet's
		// databases, a role's plan visits the schemas of a few.
		for i := range d.Schemas {
			s := &d.Schemas[i]
			if p.inScope(d.Name, s.Name) || p.holds[schemaKey{d.Name, s.Name}] {
				stmts = append(stmts, p.planSchema(d, s)...)
			}
		}
	}
	if d.Inspected {
		stmts = append(stmts, p.planGlobalDefaults(d)...)
	}
	if len(stmts) > 0 {
		p.dbStmts[d.Name] = append(p.dbStmts[d.Name], stmts...)
	}
}

// kindGroup is the objects of one kind in a schema that the diff covers.
type kindGroup struct {
	schema  string
	kind    string // TABLE, SEQUENCE, ROUTINE
	all     string // TABLES, SEQUENCES, ROUTINES
	desired []string
	objects []object
	// owned: the role owns objects of the kind here, which ON ALL … IN
	// SCHEMA also reaches.
	owned bool
}

func (p *planner) planSchema(d *catalog.Database, s *catalog.Schema) []Step {
	in := p.inScope(d.Name, s.Name)
	key := spec.Scope{Database: d.Name, Schema: s.Name}.String()
	st := ScopeState{BulkPrivileges: []string{}, Exceptions: Exceptions{Missing: map[string][]string{}, Extra: map[string][]string{}}}
	var held, missing, extra int
	var stmts []Step

	owned := func(what string) {
		if in {
			st.Owned = append(st.Owned, what)
		} else {
			p.state.Unmanaged = append(p.state.Unmanaged, d.Name+": "+what+" (owner)")
		}
	}

	if in {
		p.notePublic(key, s.Public)
	}
	// The schema itself.
	if s.Owner == p.role {
		owned("schema " + s.Name)
	} else {
		var want []string
		if in {
			want = p.schemaPrivs
		}
		o := object{kind: "SCHEMA", sql: sqlq.Ident(s.Name), display: key, owner: s.Owner, acl: s.ACL}
		diff := p.diff(o, want)
		held += len(diff.held)
		missing += len(diff.missing)
		extra += len(diff.extraAll) + len(diff.grantOpt)
		if !in {
			p.outOfScope(o, diff)
		}
		p.schemaReach(s, diff)
		stmts = append(stmts, p.revokes(o, diff, in)...)
		if len(diff.missing) > 0 {
			stmts = append(stmts, p.asOwner(s.Owner, give(p.grant(diff.missing, "SCHEMA", []string{o.ref()}), "a scope schema"))...)
		}
	}

	// Tables, sequences and routines.
	groups := []*kindGroup{{schema: s.Name, kind: "TABLE", all: "TABLES"}, {schema: s.Name, kind: "SEQUENCE", all: "SEQUENCES"}, {schema: s.Name, kind: "ROUTINE", all: "ROUTINES"}}
	if in {
		groups[0].desired, groups[1].desired, groups[2].desired = p.tablePrivs, p.seqPrivs, p.routinePrivs
	}
	seqs := 0
	for _, r := range s.Relations {
		if r.IsSequence() {
			seqs++
		}
	}
	groups[0].objects = make([]object, 0, len(s.Relations)-seqs)
	groups[1].objects = make([]object, 0, seqs)
	for _, r := range s.Relations {
		g, what := groups[0], "table "
		if r.IsSequence() {
			g, what = groups[1], "sequence "
		} else {
			st.TableCount++
		}
		if r.Owner == p.role {
			owned(what + s.Name + "." + r.Name)
			g.owned = true
			continue
		}
		o := object{kind: g.kind, schema: s.Name, name: r.Name, owner: r.Owner, acl: r.ACL, columns: r.Columns}
		if in && g.kind == "TABLE" {
			p.withhold(d, s, r, &o)
			if o.strict() {
				if st.Withheld == nil {
					st.Withheld = map[string][]string{}
				}
				st.Withheld[o.label()] = o.withheld
			}
		}
		g.objects = append(g.objects, o)
	}
	for _, r := range s.Routines {
		if r.Owner == p.role {
			owned("routine " + s.Name + "." + r.Signature())
			groups[2].owned = true
			continue
		}
		groups[2].objects = append(groups[2].objects, object{kind: "ROUTINE", sql: sqlq.Routine(s.Name, r.Name, r.Args), display: s.Name + "." + r.Signature(), owner: r.Owner, acl: r.ACL})
	}
	p.lookups = map[string]bool{}
	var objStmts []Step
	for _, g := range groups {
		gs, h, m, e := p.planGroup(g, in, &st)
		objStmts = append(objStmts, gs...)
		held, missing, extra = held+h, missing+m, extra+e
	}
	stmts = append(stmts, p.lendUsage(s, objStmts)...)

	// Default privileges.
	ds, h, m, e := p.planDefaults(d, s, in, &st)
	stmts = append(stmts, ds...)
	held, missing, extra = held+h, missing+m, extra+e

	if in {
		switch {
		case missing == 0 && extra == 0 && st.TableCount == 0:
			st.Status = StatusEmptySchema
		case missing == 0 && extra == 0:
			st.Status = StatusInSync
		case held == 0 && extra == 0:
			st.Status = StatusUnprovisioned
		default:
			st.Status = StatusDrifted
		}
		slices.Sort(st.Owned)
		p.state.ScopeStates[key] = st
	}
	return stmts
}

// lendUsage wraps stmts, the statements on the objects of schema s, in a
// GRANT USAGE on s to the roles they run as (p.lookups) that lack it, and
// the REVOKE that takes it back. PostgreSQL looks a qualified name up with
// the current role's USAGE on its schema (LookupExplicitNamespace in
// src/backend/catalog/namespace.c), which an object's owner, or a role that
// granted on it, need not hold: without it the GRANT or REVOKE fails with
// "permission denied for schema". Both run as the schema's owner in the
// block's transaction: no other session sees the loan, and at COMMIT the
// schema's privileges are as they were, so nothing is taken away.
func (p *planner) lendUsage(s *catalog.Schema, stmts []Step) []Step {
	lookups := p.lookups
	p.lookups = nil
	var lend []string
	for _, r := range s.NoUsage {
		if lookups[r] {
			lend = append(lend, r)
		}
	}
	if len(lend) == 0 || len(stmts) == 0 {
		return stmts
	}
	who, on := strings.Join(lend, ", "), sqlq.Ident(s.Name)
	out := p.asOwner(s.Owner, give("GRANT USAGE ON SCHEMA "+on+" TO "+sqlq.Idents(lend), "lent for this block: as "+who+", without USAGE on the schema, PostgreSQL cannot look its objects up"))
	out = append(out, stmts...)
	return append(out, p.asOwner(s.Owner, give("REVOKE USAGE ON SCHEMA "+on+" FROM "+sqlq.Idents(lend), "the USAGE lent above, taken back before COMMIT"))...)
}

// planGroup diffs one kind of object in a schema. A privilege the role holds
// on no object of the kind is granted with ON ALL … IN SCHEMA; a partial
// drift is fixed per object, so one missing grant does not rewrite every
// pg_class row of the schema.
func (p *planner) planGroup(g *kindGroup, in bool, st *ScopeState) (stmts []Step, held, missing, extra int) {
	if len(g.objects) == 0 {
		return nil, 0, 0, 0
	}
	diffs := make([]objDiff, len(g.objects))
	holders := map[string]int{}
	withheld := map[string]bool{} // privileges some object takes column by column
	var colStmts, revStmts, colGrants []Step
	for i, o := range g.objects {
		desired := g.desired
		if o.strict() {
			desired = slices.DeleteFunc(slices.Clone(desired), func(x string) bool { return x == "SELECT" })
			withheld["SELECT"] = true
		}
		diffs[i] = p.diff(o, desired)
		for _, h := range diffs[i].held {
			holders[h]++
		}
		held += len(diffs[i].held)
		missing += len(diffs[i].missing)
		extra += len(diffs[i].extraAll) + len(diffs[i].grantOpt)
		cs, cg, cextra, cmissing := p.columnPlan(o, revokesSelect(diffs[i]))
		colStmts, colGrants = append(colStmts, cs...), append(colGrants, cg...)
		extra += len(cextra)
		switch {
		case len(cmissing) > 0:
			missing++
			if in {
				st.Exceptions.Missing[o.label()] = []string{"SELECT (" + strings.Join(cmissing, ", ") + ")"}
			}
		case o.strict() && len(o.selectable) > 0:
			held++
		}
		revStmts = append(revStmts, p.revokes(o, diffs[i], in)...)
		if len(diffs[i].extraAll) > 0 || len(cextra) > 0 {
			if in {
				st.Exceptions.Extra[o.label()] = append(slices.Clone(diffs[i].extraAll), cextra...)
			}
		}
		if !in {
			p.outOfScope(o, diffs[i])
			for _, c := range cextra {
				p.state.OutOfScope = append(p.state.OutOfScope, p.where(o)+": "+c)
			}
		}
	}
	// ON ALL … IN SCHEMA runs as one grantor: a non-superuser admin acts as
	// the owner, so it can only use it when one role owns every object it
	// reaches (the role's own included; as another owner, a GRANT on them
	// would warn "no privileges were granted").
	bulkOK := p.super
	if !bulkOK {
		bulkOK = !g.owned
		for _, o := range g.objects[1:] {
			bulkOK = bulkOK && o.owner == g.objects[0].owner
		}
	}
	var bulk []string
	for _, want := range g.desired {
		if holders[want] == 0 && bulkOK && !withheld[want] {
			bulk = append(bulk, want)
		}
	}
	if g.kind == "TABLE" && in {
		for _, want := range g.desired {
			if holders[want] == len(g.objects) {
				st.BulkPrivileges = append(st.BulkPrivileges, want)
			}
		}
	}
	stmts = append(colStmts, revStmts...)
	if len(bulk) > 0 {
		why := fmt.Sprintf("missing %s on all %d %s of the schema", strings.Join(bulk, ", "), len(g.objects), strings.ToLower(g.all))
		stmts = append(stmts, p.asOwner(g.objects[0].owner, give("GRANT "+strings.Join(bulk, ", ")+" ON ALL "+g.all+" IN SCHEMA "+sqlq.Ident(g.schema)+" TO "+p.ident(), why))...)
	}
	// Per-object grants, grouped by owner and the privileges they miss.
	type group struct {
		owner string
		privs []string
		names []string
	}
	var groups []*group
	byKey := map[string]*group{}
	for i, o := range g.objects {
		var rest []string
		for _, m := range diffs[i].missing {
			if !slices.Contains(bulk, m) {
				rest = append(rest, m)
			}
		}
		if len(rest) == 0 {
			continue
		}
		if in {
			st.Exceptions.Missing[o.label()] = append(rest, st.Exceptions.Missing[o.label()]...)
		}
		k := strings.Join(rest, ",")
		if !p.super {
			k = o.owner + "\x00" + k
		}
		gr := byKey[k]
		if gr == nil || len(gr.names) == maxObjectsPerStatement {
			gr = &group{owner: o.owner, privs: rest}
			byKey[k] = gr
			groups = append(groups, gr)
		}
		gr.names = append(gr.names, o.ref())
	}
	for _, gr := range groups {
		why := fmt.Sprintf("missing %s on %d %s", strings.Join(gr.privs, ", "), len(gr.names), strings.ToLower(g.kind))
		if len(gr.names) > 1 {
			why += "s"
		}
		stmts = append(stmts, p.asOwner(gr.owner, give(p.grant(gr.privs, g.kind, gr.names), why))...)
	}
	return append(stmts, colGrants...), held, missing, extra
}

// revokesSelect reports that d's statements revoke table-level SELECT,
// which clears the column-level SELECT entries as well.
func revokesSelect(d objDiff) bool {
	for _, privs := range d.extra {
		if slices.Contains(privs, "SELECT") {
			return true
		}
	}
	return slices.Contains(d.grantOpt, "SELECT")
}

// withhold sets o's withheld and selectable columns from the role's strict
// rules, when the role is to get SELECT on r. A catalog read without column
// names fails the item: granting table-level SELECT instead would show
// what the rules withhold.
func (p *planner) withhold(d *catalog.Database, s *catalog.Schema, r catalog.Relation, o *object) {
	if len(p.in.Strict) == 0 || !slices.Contains(p.tablePrivs, "SELECT") {
		return
	}
	if !p.strictIn(d.Name, s.Name) {
		return
	}
	if !d.Attributes {
		return // planDatabase failed the item
	}
	for _, c := range r.Attributes {
		hit := slices.ContainsFunc(p.in.Strict, func(pat string) bool {
			return spec.ColumnPattern(pat).Match(d.Name, s.Name, r.Name, c)
		})
		if hit {
			o.withheld = append(o.withheld, c)
		} else {
			o.selectable = append(o.selectable, c)
		}
	}
	if len(o.withheld) == 0 {
		o.selectable = nil
		return
	}
	slices.Sort(o.withheld)
	slices.Sort(o.selectable)
	if len(o.selectable) == 0 {
		p.warn("%s.%s: strict rules withhold every column of %s; the role gets no SELECT on it", d.Name, s.Name, r.Name)
	}
}

// strictIn reports that a strict rule can name a column in db.schema.
func (p *planner) strictIn(db, schema string) bool {
	return slices.ContainsFunc(p.in.Strict, func(pat string) bool { return spec.ColumnPattern(pat).MatchSchema(db, schema) })
}

// where names an object with its database, for lists that span databases.
func (p *planner) where(o object) string {
	if o.kind == "SCHEMA" {
		return "schema " + o.label()
	}
	return strings.ToLower(o.kind) + " " + p.qualified(o)
}

// outOfScope records grants held outside the declared scopes.
func (p *planner) outOfScope(o object, d objDiff) {
	if len(d.extraAll) == 0 {
		return
	}
	p.state.OutOfScope = append(p.state.OutOfScope, p.where(o)+": "+strings.Join(d.extraAll, ", "))
}

// notePublic records what PUBLIC holds on a scope database or schema.
func (p *planner) notePublic(key string, privs []string) {
	if len(privs) == 0 {
		return
	}
	if p.state.PublicAccess == nil {
		p.state.PublicAccess = map[string][]string{}
	}
	p.state.PublicAccess[key] = privs
}

package service

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/spec"
)

// Generate writes the declaration that adopts resource's roles as they are,
// as far as stile's model can say it: each chosen role (all that stile may
// adopt when only is empty) with its name, adopt: true, the schemas where
// it holds privileges on every table as scopes, and its groups as
// member_of. What the declaration cannot say, and what planning it will
// therefore change, is listed per role.
func (s *Inventory) Generate(ctx context.Context, p Principal, resource string, only []string) (api.Generated, error) {
	if err := p.MayAdminister(); err != nil {
		return api.Generated{}, err
	}
	d, err := s.Discover(ctx, p, resource, nil)
	if err != nil {
		return api.Generated{}, err
	}
	res, err := s.store.Resource(ctx, resource)
	if err != nil {
		return api.Generated{}, err
	}
	for _, name := range only {
		if !slices.ContainsFunc(d.Roles, func(r inspect.DiscoveredRole) bool { return r.Name == name }) {
			return api.Generated{}, errs.New(errs.NotFound, "role %q is not a role of %s", name, resource)
		}
	}
	return generate(resource, res.AdminUser, d, only), nil
}

// generate is Generate's pure part.
func generate(resource, admin string, d inspect.Discovery, only []string) api.Generated {
	out := api.Generated{Resource: resource, Items: []spec.Role{}, Errors: d.Errors}
	byName := map[string]inspect.DiscoveredRole{}
	for _, r := range d.Roles {
		byName[r.Name] = r
	}
	chosen := map[string]bool{}
	for _, r := range d.Roles {
		switch why := unadoptable(r, admin); {
		case len(only) > 0 && !slices.Contains(only, r.Name):
		case why != "":
			if len(only) > 0 {
				out.Skipped = append(out.Skipped, api.Unexpressed{Role: r.Name, What: why})
			}
		default:
			chosen[r.Name] = true
		}
	}
	tables, creators := indexDiscovery(d)
	// First what each role holds itself: a group that holds nothing on a
	// whole schema cannot be declared, so no one is generated its member.
	gens := map[string]*generated{}
	items := map[string]spec.Role{}
	for _, r := range d.Roles {
		if !chosen[r.Name] {
			continue
		}
		g := &generated{role: r, chosen: chosen, byName: byName, tables: tables, creators: creators}
		item := g.declare(resource)
		if item.Type == spec.Group && len(item.Scopes) == 0 {
			out.Skipped = append(out.Skipped, api.Unexpressed{Role: r.Name, What: "it holds no privilege on a whole schema: a group without one cannot be declared (declare it by hand)"})
			delete(chosen, r.Name)
			continue
		}
		gens[r.Name], items[r.Name] = g, item
	}
	for _, r := range d.Roles {
		g := gens[r.Name]
		if g == nil {
			continue
		}
		item := items[r.Name]
		item.MemberOf = g.memberships(item.Type)
		if len(item.Scopes) == 0 && len(item.MemberOf) == 0 {
			out.Skipped = append(out.Skipped, api.Unexpressed{Role: r.Name, What: "it holds no privilege on a whole schema and is in no generated group: there is nothing to declare (declare it by hand)"})
			continue
		}
		out.Items = append(out.Items, item)
		out.Unexpressed = append(out.Unexpressed, g.notes...)
	}
	return out
}

// unadoptable says why a discovered role is not generated, or "".
func unadoptable(r inspect.DiscoveredRole, admin string) string {
	switch {
	case r.Name == "PUBLIC":
		return "PUBLIC is every role, not one"
	case r.Superuser:
		return "a superuser: stile does not adopt superusers"
	case r.Name == admin:
		return "the resource's admin"
	case r.Stile != "unmanaged":
		return "stile already manages it (" + r.Stile + ")"
	case spec.Slug(r.Name) == "":
		return "its name has no letter or digit to make a label of"
	case len(r.Name) > spec.MaxIdentLen:
		return "its name is too long"
	}
	return ""
}

// indexDiscovery reads d once for what generate compares each role with:
// how many objects of each kind each schema holds ("db\x00schema\x00kind",
// from the owners' rows), and per "db\x00schema" the roles whose new
// objects the planner gives default privileges for: the schema's owner
// (the database's owner for pg_database_owner, a built-in role discovery
// does not list, which owns public from 15 on), every owner of an object
// there, every role holding CREATE there. Sorted.
func indexDiscovery(d inspect.Discovery) (counts map[string]int, creators map[string][]string) {
	counts, creators = map[string]int{}, map[string][]string{}
	dbOwner := map[string]string{}
	owned := map[string]bool{} // schemas a discovered role owns
	for _, r := range d.Roles {
		for _, h := range r.Holds {
			if h.Kind == "database" && h.Privilege == "OWNER" {
				dbOwner[h.Database] = r.Name
			}
			if h.Schema == "" || h.Default {
				continue
			}
			k := h.Database + "\x00" + h.Schema
			if _, seen := creators[k]; !seen {
				creators[k] = nil
			}
			switch {
			case h.Privilege == "OWNER" && h.Kind != "schema":
				counts[k+"\x00"+h.Kind] = max(counts[k+"\x00"+h.Kind], h.Of)
			case h.Privilege == "OWNER":
				owned[k] = true
			case h.Kind != "schema" || h.Privilege != "CREATE" || r.Name == "PUBLIC":
				continue
			}
			if !slices.Contains(creators[k], r.Name) {
				creators[k] = append(creators[k], r.Name)
			}
		}
	}
	for k, list := range creators {
		db, _, _ := strings.Cut(k, "\x00")
		if o := dbOwner[db]; o != "" && !owned[k] && !slices.Contains(list, o) {
			list = append(list, o)
		}
		slices.Sort(list)
		creators[k] = list
	}
	return counts, creators
}

type generated struct {
	role     inspect.DiscoveredRole
	chosen   map[string]bool
	byName   map[string]inspect.DiscoveredRole
	tables   map[string]int
	creators map[string][]string
	notes    []api.Unexpressed
}

func (g *generated) note(plan, format string, args ...any) {
	g.notes = append(g.notes, api.Unexpressed{Role: g.role.Name, What: fmt.Sprintf(format, args...), Plan: plan})
}

// What planning the generated file does about what it cannot say.
const (
	planGrants   = "grant"
	planRevokes  = "revoke"
	planResets   = "reset"
	planIgnores  = "ignore"
	planReGrants = "re-grant"
)

func (g *generated) declare(resource string) spec.Role {
	r := g.role
	item := spec.Role{Resource: resource, Type: spec.Managed, Label: r.Name, Name: r.Name, Adopt: true,
		Replication: r.Replication, BypassRLS: r.BypassRLS}
	if !r.Login {
		item.Type = spec.Group
	}
	g.attributes()
	item.Scopes, item.Privileges = g.scopes()
	return item
}

func (g *generated) attributes() {
	r := g.role
	for _, a := range []struct {
		on   bool
		what string
	}{{r.CreateDB, "CREATEDB"}, {r.CreateRole, "CREATEROLE"}, {!r.Inherit, "NOINHERIT"}} {
		if a.on {
			g.note(planResets, "attribute %s: the plan removes it", a.what)
		}
	}
	if r.ConnLimit != -1 {
		g.note(planResets, "connection limit %d: the plan resets it to -1", r.ConnLimit)
	}
	if r.ValidUntil != "" && r.ValidUntil != "infinity" {
		g.note(planResets, "valid until %s: the plan resets it to infinity", r.ValidUntil)
	}
}

// memberships keeps the memberships in generated groups and notes the rest.
func (g *generated) memberships(typ string) []string {
	var groups []string
	for _, m := range g.role.MemberOf {
		t, known := g.byName[m.Role]
		switch {
		case typ == spec.Group:
			g.note(planRevokes, "membership in %s: groups of groups are not declared yet, the plan revokes it", m.Role)
		case !known:
			g.note(planRevokes, "membership in %s (a built-in role): the plan revokes it; an external role can inherit it instead", m.Role)
		case t.Login || t.Superuser:
			g.note(planRevokes, "membership in %s, which logs in (a declared group cannot): the plan revokes it", m.Role)
		case !g.chosen[m.Role]:
			g.note(planRevokes, "membership in %s, which is not generated: the plan revokes it (generate it too to keep it)", m.Role)
		default:
			if m.AdminOption || !m.Inherit {
				g.note(planReGrants, "membership in %s (admin %t, inherit %t): the plan re-grants it with INHERIT and without ADMIN", m.Role, m.AdminOption, m.Inherit)
			}
			groups = append(groups, m.Role)
		}
	}
	slices.Sort(groups)
	return slices.Compact(groups)
}

// schemaHolds is what a role holds in one schema.
type schemaHolds struct {
	full, partial map[string]bool // table privileges on all / some tables
	usage, create bool
	sequences     map[string]int // privilege → sequences held on
	functions     map[string]int
	defaults      map[string]bool // "creator\x00kind" of its default privileges
	owned         int             // tables it owns
}

func (g *generated) holdings() (map[[2]string]*schemaHolds, map[string][]string) {
	schemas := map[[2]string]*schemaHolds{}
	dbs := map[string][]string{}
	at := func(db, schema string) *schemaHolds {
		k := [2]string{db, schema}
		if schemas[k] == nil {
			schemas[k] = &schemaHolds{full: map[string]bool{}, partial: map[string]bool{}, sequences: map[string]int{}, functions: map[string]int{}, defaults: map[string]bool{}}
		}
		return schemas[k]
	}
	for _, h := range g.role.Holds {
		if h.Kind == "database" {
			if h.Privilege != "OWNER" {
				dbs[h.Database] = append(dbs[h.Database], h.Privilege)
			}
			continue
		}
		if h.Schema == "" {
			g.note(planRevokes, "default privileges on %s in database %s, for %s, in every schema: the plan revokes them (they are declared per schema)", h.Kind, h.Database, h.For)
			continue
		}
		s := at(h.Database, h.Schema)
		switch {
		case h.Default:
			s.defaults[h.For+"\x00"+h.Kind] = true
		case h.Kind == "schema" && h.Privilege == "USAGE":
			s.usage = true
		case h.Kind == "schema" && h.Privilege == "CREATE":
			s.create = true
		case h.Kind == "schema" && h.Privilege == "OWNER":
			s.usage, s.create = true, true
		case h.Kind == "table" && h.Privilege == "OWNER":
			s.owned = h.Objects
		case h.Kind == "table" && h.Objects == h.Of && h.Of > 0:
			s.full[h.Privilege] = true
		case h.Kind == "table":
			s.partial[h.Privilege] = true
		case h.Kind == "sequence" && h.Privilege != "OWNER":
			s.sequences[h.Privilege] = h.Objects
		case h.Kind == "function" && h.Privilege != "OWNER":
			s.functions[h.Privilege] = h.Objects
		case h.Kind == "column":
			g.note(planRevokes, "%s on columns of %d table(s) of %s.%s: column grants are not declared, the plan revokes them", h.Privilege, h.Objects, h.Database, h.Schema)
		case h.Kind == "policy":
			g.note(planIgnores, "row-level security policies for %s on %d table(s) of %s.%s name it: not part of the declaration, the plan leaves them", h.Privilege, h.Objects, h.Database, h.Schema)
		}
	}
	return schemas, dbs
}

// scopes picks the schemas where the role holds a table privilege on every
// table, or CREATE, and the privileges it holds there; what it holds
// elsewhere, or on only some tables, is noted.
func (g *generated) scopes() ([]string, []string) {
	schemas, dbs := g.holdings()
	keys := slices.SortedFunc(maps.Keys(schemas), func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	privs := map[string]bool{}
	var scopes [][2]string
	for _, k := range keys {
		s := schemas[k]
		if len(s.full) == 0 && !s.create {
			continue
		}
		scopes = append(scopes, k)
		for p := range s.full {
			privs[p] = true
		}
		if s.create {
			privs["CREATE"] = true
		}
		if s.functions["EXECUTE"] > 0 && s.functions["EXECUTE"] == g.tables[k[0]+"\x00"+k[1]+"\x00function"] {
			privs["EXECUTE"] = true
		}
	}
	var tablePrivs []string
	for _, p := range spec.TablePrivileges {
		if privs[p] {
			tablePrivs = append(tablePrivs, p)
		}
	}
	inScope := map[string]bool{}
	for _, k := range scopes {
		inScope[k[0]] = true
	}
	for _, k := range keys {
		s, where := schemas[k], k[0]+"."+k[1]
		if !slices.Contains(scopes, k) {
			var held []string
			for _, p := range slices.Sorted(maps.Keys(s.partial)) {
				held = append(held, p+" on some tables")
			}
			for _, x := range []struct {
				on   bool
				what string
			}{{s.usage, "USAGE"}, {len(s.sequences) > 0, "privileges on sequences"}, {len(s.functions) > 0, "EXECUTE on functions"}, {len(s.defaults) > 0, "default privileges"}} {
				if x.on {
					held = append(held, x.what)
				}
			}
			if len(held) > 0 {
				g.note(planRevokes, "%s in %s, which holds no privilege on every table: a scope is a whole schema, the plan revokes them", strings.Join(held, ", "), where)
			}
			if s.owned > 0 {
				g.note(planIgnores, "owns %d table(s) in %s, outside its scopes: the plan lists them as unmanaged", s.owned, where)
			}
			continue
		}
		n := g.tables[k[0]+"\x00"+k[1]+"\x00table"]
		for _, p := range tablePrivs {
			if !s.full[p] && n > s.owned {
				g.note(planGrants, "%s on all tables of %s (privileges are one list for every scope): the plan grants it", p, where)
			}
		}
		for _, p := range slices.Sorted(maps.Keys(s.partial)) {
			if !privs[p] {
				g.note(planRevokes, "%s on some tables of %s: a scope is a whole schema, the plan revokes it", p, where)
			}
		}
		if !s.usage {
			g.note(planGrants, "USAGE on schema %s: the plan grants it", where)
		}
		if len(tablePrivs) > 0 {
			var missing []string
			for _, c := range g.creators[k[0]+"\x00"+k[1]] {
				if c != g.role.Name && !s.defaults[c+"\x00table"] {
					missing = append(missing, c)
				}
			}
			if len(missing) > 0 {
				g.note(planGrants, "default privileges in %s for what %s create(s): the plan sets them", where, strings.Join(missing, ", "))
			}
		}
		if seqs := g.tables[k[0]+"\x00"+k[1]+"\x00sequence"]; seqs > 0 && len(tablePrivs) > 0 && s.sequences["SELECT"] < seqs {
			g.note(planGrants, "privileges on the %d sequence(s) of %s: the plan grants what its table privileges need", seqs, where)
		}
		switch fns, held := g.tables[k[0]+"\x00"+k[1]+"\x00function"], s.functions["EXECUTE"]; {
		case privs["EXECUTE"] && held < fns:
			g.note(planGrants, "EXECUTE on all functions of %s (privileges are one list for every scope): the plan grants it", where)
		case !privs["EXECUTE"] && held > 0:
			g.note(planRevokes, "EXECUTE on some functions of %s: a scope is a whole schema, the plan revokes it", where)
		}
	}
	for _, db := range slices.Sorted(maps.Keys(dbs)) {
		for _, p := range dbs[db] {
			if p != "CONNECT" || !inScope[db] {
				g.note(planRevokes, "%s on database %s: the plan revokes it", p, db)
			}
		}
	}
	for _, db := range slices.Sorted(maps.Keys(inScope)) {
		if !slices.Contains(dbs[db], "CONNECT") {
			g.note(planGrants, "CONNECT on database %s: the plan grants it (PUBLIC's is not counted)", db)
		}
	}
	if privs["EXECUTE"] {
		tablePrivs = append(tablePrivs, "EXECUTE")
	}
	if privs["CREATE"] {
		tablePrivs = append(tablePrivs, "CREATE")
	}
	out := make([]string, len(scopes))
	for i, k := range scopes {
		out[i] = spec.Scope{Database: k[0], Schema: k[1]}.String()
	}
	if len(out) > 0 && len(tablePrivs) == 0 {
		return nil, nil
	}
	return out, tablePrivs
}

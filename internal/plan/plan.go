package plan

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/sqlq"
)

// PasswordPlaceholder stands for the generated password in plans; the
// executor substitutes a SCRAM verifier at apply time.
const PasswordPlaceholder = "ROLE_PASSWORD_PLACEHOLDER"

// Input is one declared role and what the planner must know beyond the
// catalog. Role must be normalized (spec.Role.Normalize).
type Input struct {
	Role      spec.Role
	RoleName  string
	Host      string
	Port      int
	AdminUser string
	// Scopes are Role.Scopes parsed (NewInput).
	Scopes []spec.Scope
	// HasPassword reports that stile holds a current password for the role.
	HasPassword bool
	// Kept reports that stile already manages the role (an apply of its
	// declaration succeeded): a role named by role_name that exists but is
	// not kept must be adopted, not silently taken over.
	Kept bool `json:",omitempty"`
	// MemberOf are the PostgreSQL names of the groups Role.MemberOf names,
	// sorted; the service resolves them (a group not created yet is
	// required: its plan must be applied first).
	MemberOf []string `json:",omitempty"`
	// Creators are roles of the same batch, on the same cluster, declared
	// with CREATE: creators of their scopes up front, before their own
	// apply grants them CREATE (see DeclareCreators).
	Creators []DeclaredCreator `json:",omitempty"`
	// Strict are the role's strict masking rules, spec.ColumnPattern
	// strings: SELECT on the columns they match is withheld, the rest of
	// such a table granted column by column. Sorted.
	Strict []string `json:",omitempty"`
}

// NewInput returns the input for role, named roleName, with its scopes
// parsed; the caller sets where it is applied (Host, Port, AdminUser) and
// HasPassword. A bad scope is errs.Invalid.
func NewInput(role spec.Role, roleName string) (Input, error) {
	scopes, err := role.ParseScopes()
	if err != nil {
		return Input{}, err
	}
	return Input{Role: role, RoleName: roleName, Scopes: scopes}, nil
}

// Result is a computed plan.
type Result struct {
	Document Document
	// Status is ItemInSync, ItemOutOfSync or ItemFailed.
	Status string
	// Message says why the item failed, or summarizes the plan.
	Message string
	Blocks  []Block
	// NeedsPassword reports that the SQL sets the placeholder password.
	NeedsPassword bool
	// ReachesOthers reports that applying the plan changes what other
	// roles' plans read (who may create in a schema, a role's memberships,
	// grants made to others…; see reach.go): a batch re-reads the catalog
	// before the entries after it.
	ReachesOthers bool
}

// Block is a group of steps run in one transaction: Database "" is the
// role-level block, run on the maintenance database.
type Block struct {
	Database string `json:"database,omitempty"`
	Steps    []Step `json:"steps"`
}

// Make computes the plan for in against snap. Failures (a missing database,
// a capability gap, an un-revocable grant) give Status ItemFailed with the
// reason in Message; the document still shows what was found.
func Make(snap *catalog.Snapshot, in Input) Result {
	return NewBatch(snap).Make(in)
}

// Batch plans many inputs against one snapshot, indexing it once: which
// schemas each role holds anything in, so that a role's plan visits only its
// scopes and the schemas where it has grants or objects.
type Batch struct {
	snap  *catalog.Snapshot
	roles map[string]catalog.Role
	holds map[string]map[schemaKey]bool
	// holdsIn: the databases of holds' schemas, per role.
	holdsIn map[string]map[string]bool
}

type schemaKey struct{ db, schema string }

// NewBatch indexes snap.
func NewBatch(snap *catalog.Snapshot) *Batch {
	b := &Batch{snap: snap, roles: make(map[string]catalog.Role, len(snap.Roles)), holds: map[string]map[schemaKey]bool{}, holdsIn: map[string]map[string]bool{}}
	for _, r := range snap.Roles {
		b.roles[r.Name] = r
	}
	mark := func(role string, k schemaKey) {
		if b.holds[role] == nil {
			b.holds[role] = map[schemaKey]bool{}
			b.holdsIn[role] = map[string]bool{}
		}
		b.holds[role][k] = true
		b.holdsIn[role][k.db] = true
	}
	acl := func(items []catalog.ACLItem, k schemaKey) {
		for _, a := range items {
			mark(a.Grantee, k)
		}
	}
	for _, d := range snap.Databases {
		for _, s := range d.Schemas {
			k := schemaKey{d.Name, s.Name}
			mark(s.Owner, k)
			acl(s.ACL, k)
			for _, r := range s.Relations {
				mark(r.Owner, k)
				acl(r.ACL, k)
				for _, c := range r.Columns {
					mark(c.Grantee, k)
				}
			}
			for _, r := range s.Routines {
				mark(r.Owner, k)
				acl(r.ACL, k)
			}
		}
		for _, da := range d.DefaultACLs {
			if da.Schema != "" {
				acl(da.ACL, schemaKey{d.Name, da.Schema})
			}
		}
	}
	return b
}

// Make plans one input against the batch's snapshot.
func (b *Batch) Make(in Input) Result {
	p := newPlanner(b, in)
	p.run()
	return p.result()
}

type planner struct {
	snap    *catalog.Snapshot
	in      Input
	role    string
	roleSQL string // role quoted (ident)
	srv     catalog.Server
	admin   string
	super   bool
	roles   map[string]catalog.Role
	holds   map[schemaKey]bool
	holdsIn map[string]bool   // databases of holds
	curDB   *catalog.Database // the database being planned
	target  catalog.Role
	exists  bool

	tablePrivs, seqPrivs, schemaPrivs, routinePrivs []string
	scopes                                          map[string][]string // database -> sorted schemas

	state            State
	failures         []string
	fixes            []string                   // SQL a superuser runs to close capability gaps
	needs            map[string]*membershipNeed // memberships the admin lacks
	uncovered        map[string]bool            // creators the admin cannot set default privileges for
	requires         map[string]bool            // declared creators that do not exist yet
	roleStmts        []Step
	dbStmts          map[string][]Step
	retire           []Block // a retirement's blocks, in order: databases, then the role
	roleBlockDBStmts []Step
	needsPW          bool
	// lookups are the roles statements on the objects of the schema being
	// planned run as (SET ROLE); nil outside planSchema's objects.
	lookups map[string]bool
	// reach: applying the plan changes what other roles' plans read
	// (reach.go).
	reach bool
}

func newPlanner(b *Batch, in Input) *planner {
	snap := b.snap
	p := &planner{
		snap:    snap,
		in:      in,
		role:    in.RoleName,
		srv:     snap.Server,
		admin:   snap.Server.Admin,
		super:   snap.Server.Superuser,
		roles:   b.roles,
		holds:   b.holds[in.RoleName],
		holdsIn: b.holdsIn[in.RoleName],
		scopes:  map[string][]string{},
		dbStmts: map[string][]Step{},
	}
	p.target, p.exists = p.roles[p.role]
	p.state = State{
		Role:        p.role,
		Exists:      p.exists,
		Attributes:  map[string]any{},
		Memberships: []MembershipState{},
		ScopeStates: map[string]ScopeState{},
	}
	return p
}

func (p *planner) fail(format string, args ...any) {
	p.failures = append(p.failures, fmt.Sprintf(format, args...))
}

func (p *planner) warn(format string, args ...any) {
	p.state.Warnings = append(p.state.Warnings, fmt.Sprintf(format, args...))
}

func (p *planner) run() {
	s := p.snap.Server
	if s.InRecovery {
		p.fail("server is a standby (pg_is_in_recovery): plan against the primary")
		return
	}
	if !s.Superuser && !s.CreateRole {
		p.fail("admin %q is neither superuser nor CREATEROLE: it cannot manage roles", p.admin)
		return
	}
	if p.role == p.admin {
		p.fail("role %q is the admin itself", p.role)
		return
	}
	if p.in.Role.Retire {
		p.planRetire()
		return
	}
	if len(p.in.Strict) > 0 && len(p.in.MemberOf) > 0 {
		// A group's SELECT reaches its members whole: it would read what
		// the rules withhold.
		p.fail("role %q has strict masking rules, which its groups' privileges would bypass: a role with strict rules cannot be member_of a group", p.role)
		return
	}
	p.desiredPrivileges()
	p.resolveScopes()
	if len(p.failures) > 0 {
		return
	}
	p.planRole()
	p.planMemberships()
	for i := range p.snap.Databases {
		p.planDatabase(&p.snap.Databases[i])
	}
	p.collectUnmanaged()
}

// desiredPrivileges expands the requested privileges into per-kind sets.
func (p *planner) desiredPrivileges() {
	if p.in.Role.Type == spec.External || len(p.in.Role.Privileges) == 0 {
		return
	}
	req := p.in.Role.Privileges
	has := func(x string) bool { return slices.Contains(req, x) }
	for _, t := range spec.TablePrivileges {
		if t == "MAINTAIN" && !p.srv.HasMaintain() {
			if has("MAINTAIN") {
				p.fail("privilege MAINTAIN needs PostgreSQL 17 or later (server is %d)", p.srv.Major())
			}
			continue
		}
		if has(t) || has("ALL") {
			p.tablePrivs = append(p.tablePrivs, t)
		}
	}
	if slices.Contains(p.tablePrivs, "INSERT") || slices.Contains(p.tablePrivs, "UPDATE") {
		p.seqPrivs = []string{"USAGE", "SELECT"}
	} else if slices.Contains(p.tablePrivs, "SELECT") {
		p.seqPrivs = []string{"SELECT"}
	}
	p.schemaPrivs = []string{"USAGE"}
	if has("CREATE") {
		p.schemaPrivs = append(p.schemaPrivs, "CREATE")
		p.warn("CREATE: the role will own the objects it creates; other stile roles on these schemas need a re-plan to cover them")
	}
	if has("EXECUTE") {
		p.routinePrivs = []string{"EXECUTE"}
	}
}

// resolveScopes expands scopes into databases and schemas: a database scope
// means every user schema that no extension owns.
func (p *planner) resolveScopes() {
	set := map[string]map[string]bool{}
	if len(p.in.Scopes) != len(p.in.Role.Scopes) {
		p.fail("the role's scopes were not parsed (make inputs with plan.NewInput)")
		return
	}
	for _, sc := range p.in.Scopes {
		db, ok := p.snap.Database(sc.Database)
		switch {
		case !ok:
			p.fail("scope %s: database %q does not exist", sc, sc.Database)
			continue
		case db.IsTemplate || !db.AllowConn:
			p.fail("scope %s: database %q is a template or does not allow connections", sc, sc.Database)
			continue
		case db.Error != "":
			p.fail("scope %s: %s", sc, db.Error)
			continue
		case !db.Inspected:
			p.fail("scope %s: database %q was not inspected", sc, sc.Database)
			continue
		}
		if set[db.Name] == nil {
			set[db.Name] = map[string]bool{}
		}
		if sc.Schema != "" {
			if _, ok := db.Schema(sc.Schema); !ok {
				p.fail("scope %s: schema %q does not exist in database %q", sc, sc.Schema, sc.Database)
				continue
			}
			set[db.Name][sc.Schema] = true
			continue
		}
		for _, x := range sc.Exclude {
			if _, ok := db.Schema(x); !ok {
				p.fail("scope %s: excluded schema %q does not exist in database %q", sc, x, sc.Database)
			}
		}
		for _, s := range db.Schemas {
			if !s.Extension && !sc.Excludes(s.Name) {
				set[db.Name][s.Name] = true
			}
		}
	}
	for db, schemas := range set {
		list := make([]string, 0, len(schemas))
		for s := range schemas {
			list = append(list, s)
		}
		slices.Sort(list)
		p.scopes[db] = list
	}
	for i := range p.snap.Databases {
		d := &p.snap.Databases[i]
		// The reader cannot tell whose dependents an unreadable database
		// holds, so it fails every item of the batch.
		if d.HasDependents && d.Error != "" {
			p.fail("database %q holds objects or grants of the role but cannot be inspected: %s", d.Name, d.Error)
		}
	}
}

func (p *planner) inScope(db, schema string) bool {
	_, ok := slices.BinarySearch(p.scopes[db], schema)
	return ok
}

func (p *planner) result() Result {
	cfg := Config{
		Type:           p.in.Role.Type,
		RoleName:       p.role,
		SourceRole:     p.in.Role.SourceRole,
		Scopes:         nonNil(p.in.Role.Scopes),
		Privileges:     nonNil(p.in.Role.Privileges),
		RotatePassword: p.in.Role.RotatePassword,
		Retire:         p.in.Role.Retire,
		Heir:           p.in.Role.Heir,
		StrictColumns:  sorted(p.in.Strict),
		Adopt:          p.in.Role.Adopt,
		Replication:    p.in.Role.Replication,
		BypassRLS:      p.in.Role.BypassRLS,
		MemberOf:       slices.Clone(p.in.MemberOf),
	}
	if len(cfg.StrictColumns) == 0 {
		cfg.StrictColumns = nil
	}
	r := Result{Document: Document{Config: cfg}}
	p.fixes = append(p.fixes, p.membershipFixes()...)
	if len(p.fixes) > 0 {
		slices.Sort(p.fixes)
		p.fixes = slices.Compact(p.fixes)
		p.fail("the admin lacks capabilities; a superuser can grant them with: %s", strings.Join(p.fixes, " "))
	}
	r.Blocks = p.blocks()
	if p.retire != nil {
		r.Blocks = p.retire
	}
	p.state.RequiresMigration = len(r.Blocks) > 0 || len(p.state.Unmanaged) > 0
	if len(p.failures) > 0 {
		// A failed plan shows no SQL that looks runnable: apply refuses it,
		// and a person copying a partial plan would half-apply it by hand.
		r.Blocks, p.needsPW = nil, false
	}
	sortState(&p.state)
	r.Document.CurrentState = p.state
	r.Document.Blocks = r.Blocks
	if len(r.Blocks) > 0 {
		r.Document.Requires = slices.Sorted(maps.Keys(p.requires))
	}
	r.Document.SQLPlan = Render(p.role, r.Blocks, p.state.Unmanaged)
	if len(p.failures) > 0 {
		r.Document.SQLPlan = RenderFailed(p.failures, p.state.Unmanaged)
	}
	r.Document.Checksum = Checksum(p.in, p.snap.Server.Major(), r.Document)
	r.NeedsPassword = p.needsPW
	r.ReachesOthers = p.reach && len(r.Blocks) > 0
	switch {
	case len(p.failures) > 0:
		r.Status = ItemFailed
		r.Message = strings.Join(p.failures, "; ")
	case p.state.RequiresMigration:
		r.Status = ItemOutOfSync
		r.Message = summary(r.Blocks, len(p.state.Unmanaged))
	default:
		r.Status = ItemInSync
		r.Message = "no changes"
	}
	return r
}

func (p *planner) blocks() []Block {
	var out []Block
	role := append(slices.Clone(p.roleStmts), p.roleBlockDBStmts...)
	if len(role) > 0 {
		out = append(out, Block{Steps: collapseRoleSwitches(role)})
	}
	dbs := make([]string, 0, len(p.dbStmts))
	for db, st := range p.dbStmts {
		if len(st) > 0 {
			dbs = append(dbs, db)
		}
	}
	slices.Sort(dbs)
	for _, db := range dbs {
		out = append(out, Block{Database: db, Steps: collapseRoleSwitches(p.dbStmts[db])})
	}
	return out
}

func summary(blocks []Block, unmanaged int) string {
	n := 0
	for _, b := range blocks {
		n += len(b.Steps)
	}
	msg := fmt.Sprintf("%d statement(s) in %d block(s)", n, len(blocks))
	if unmanaged > 0 {
		msg += fmt.Sprintf("; %d unmanaged item(s) to resolve by hand", unmanaged)
	}
	return msg
}

func sortState(s *State) {
	slices.SortFunc(s.Memberships, func(a, b MembershipState) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Grantor, b.Grantor))
	})
	for _, l := range []*[]string{&s.OutOfScope, &s.DefaultPrivileges, &s.Unmanaged, &s.UncoveredCreators, &s.Members} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ident is the quoted role name, used in every statement.
func (p *planner) ident() string {
	if p.roleSQL == "" {
		p.roleSQL = sqlq.Ident(p.role)
	}
	return p.roleSQL
}

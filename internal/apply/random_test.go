package apply_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/target"
)

var (
	randomSeeds  = flag.String("random.seeds", "", "comma-separated seeds for TestRandomConverge, instead of the fixed list")
	randomTrials = flag.Int("random.trials", 0, "run TestRandomConverge on this many seeds from 1000 on, instead of the fixed list")
)

// fixedSeeds run on every make test; the seeds that found a bug stay here.
var fixedSeeds = []uint64{1, 2, 3, 4, 5, 6, 1002}

// TestRandomConverge builds a random catalog (databases, schemas with
// several owners, tables, views, partitions, sequences, functions), declares
// random managed roles over it (CREATE included, some with strict column
// rules) and converges them one at a time, as a superuser or a CREATEROLE
// admin. Then an oracle that does not
// use the planner checks every privilege of every role on every object with
// has_*_privilege against what the declaration means, a re-plan must be
// empty, new objects made by every creator must be covered, and random
// drift made by hand must be found and repaired. Seeds are reproducible:
// go test ./internal/apply -run TestRandomConverge -random.seeds 42 -v
// (-random.trials N for a longer run).
func TestRandomConverge(t *testing.T) {
	seeds := fixedSeeds
	switch {
	case *randomSeeds != "":
		seeds = nil
		for _, s := range strings.Split(*randomSeeds, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
			if err != nil {
				t.Fatalf("-random.seeds: %v", err)
			}
			seeds = append(seeds, n)
		}
	case *randomTrials > 0:
		seeds = nil
		for i := range *randomTrials {
			seeds = append(seeds, uint64(1000+i))
		}
	}
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
				tr := newTrial(t, c, seed)
				tr.build()
				tr.run()
			})
		}
	})
}

type trial struct {
	t   *testing.T
	c   pgtest.Cluster
	rng *rand.Rand
	// srng picks strict column rules: a stream of its own, so that the
	// fixed seeds' catalogs, roles and drift stay what they were.
	srng *rand.Rand
	// urng picks object owners whose USAGE on the schema is revoked, and
	// crng a role that holds CREATE by hand before a batch, which its entry
	// revokes: streams of their own, for the same reason.
	urng, crng *rand.Rand
	// grng declares a group role and its members, in some trials: a
	// stream of its own as well.
	grng  *rand.Rand
	group string // the group's role name, "" when none is declared
	p     string
	tg    target.Target
	super bool
	batch bool // the first converge is one batch (plan -f, apply -f)
	// removes: an entry of the batch revokes a CREATE granted by hand
	// before it, so a later entry may be refused as drift (then re-planned).
	removes bool
	owners  []string // roles that own schemas and objects
	dbs     []string
	roles   []plan.Input
	hasPW   map[string]bool
	conns   map[string]*pgx.Conn
	log     []string // what the trial did, printed on failure
}

// conn is the trial's superuser connection to db.
func (tr *trial) conn(db string) *pgx.Conn {
	if tr.conns[db] == nil {
		tr.conns[db] = tr.c.Conn(tr.t, db)
	}
	return tr.conns[db]
}

func newTrial(t *testing.T, c pgtest.Cluster, seed uint64) *trial {
	tr := &trial{t: t, c: c, rng: rand.New(rand.NewPCG(seed, 0x57113)), srng: rand.New(rand.NewPCG(seed, 0x5721c7)),
		urng: rand.New(rand.NewPCG(seed, 0x05a6e)), crng: rand.New(rand.NewPCG(seed, 0xc4ea7e)),
		grng: rand.New(rand.NewPCG(seed, 0x6a0e9)), p: c.Prefix(t), hasPW: map[string]bool{}, conns: map[string]*pgx.Conn{}}
	tr.super = tr.rng.IntN(2) == 0
	tr.batch = tr.rng.IntN(2) == 0
	return tr
}

func (tr *trial) logf(format string, args ...any) {
	tr.log = append(tr.log, fmt.Sprintf(format, args...))
}

// fatalf fails the trial with what it did so far.
func (tr *trial) fatalf(format string, args ...any) {
	tr.t.Helper()
	tr.t.Fatalf("%s\ntrial log:\n  %s", fmt.Sprintf(format, args...), strings.Join(tr.log, "\n  "))
}

func (tr *trial) pick(list []string) string { return list[tr.rng.IntN(len(list))] }

// exec runs statements as the superuser in db, logging them.
func (tr *trial) exec(db string, stmts ...string) {
	tr.t.Helper()
	for _, s := range stmts {
		tr.logf("%s: %s", db, s)
	}
	tr.c.Exec(tr.t, db, stmts...)
}

// build makes the roles, databases and objects.
func (tr *trial) build() {
	p := tr.p
	nOwners := 1 + tr.rng.IntN(3)
	var roleStmts []string
	for i := range nOwners {
		o := fmt.Sprintf("%s_o%d", p, i)
		tr.owners = append(tr.owners, o)
		roleStmts = append(roleStmts, "CREATE ROLE "+o)
	}
	admin := tr.c.Target().User
	tr.tg = tr.c.Target()
	if !tr.super {
		admin = p + "_admin"
		roleStmts = append(roleStmts, "CREATE ROLE "+admin+" LOGIN CREATEROLE CREATEDB PASSWORD 'adminpw'")
		for _, o := range tr.owners {
			roleStmts = append(roleStmts, "GRANT "+o+" TO "+admin)
		}
		tr.tg = tr.c.As(admin, "adminpw")
	}
	roleStmts = append(roleStmts, "CREATE ROLE "+p+"_x") // a third-party grantor
	if !tr.super {
		// SET to revoke what x granted, ADMIN to grant and revoke x itself.
		roleStmts = append(roleStmts, "GRANT "+p+"_x TO "+admin+" WITH ADMIN OPTION")
	}
	tr.logf("admin: %s (superuser %v), batch %v", admin, tr.super, tr.batch)
	tr.exec("postgres", roleStmts...)

	nDBs := 1 + tr.rng.IntN(2)
	for i := range nDBs {
		db := fmt.Sprintf("%s_db%d", p, i)
		tr.dbs = append(tr.dbs, db)
		owner := admin
		if tr.super && tr.rng.IntN(2) == 0 {
			owner = tr.pick(tr.owners)
		}
		tr.exec("postgres", "CREATE DATABASE "+db+" OWNER "+owner, "REVOKE ALL ON DATABASE "+db+" FROM PUBLIC")
		// PUBLIC's USAGE on public would blur the oracle.
		stmts := []string{"REVOKE ALL ON SCHEMA public FROM PUBLIC"}
		nSchemas := 1 + tr.rng.IntN(3)
		schemas := []string{"public"}
		schemaOwner := map[string]string{"public": "pg_database_owner"}
		for j := range nSchemas {
			s := fmt.Sprintf("s%d", j)
			schemas = append(schemas, s)
			schemaOwner[s] = tr.pick(tr.owners)
			stmts = append(stmts, "CREATE SCHEMA "+s+" AUTHORIZATION "+schemaOwner[s])
		}
		objectOwners := map[string][]string{}
		for _, s := range schemas {
			for k := range tr.rng.IntN(4) {
				owner := tr.pick(tr.owners)
				objectOwners[s] = append(objectOwners[s], owner)
				name := fmt.Sprintf("%s.t%d", s, k)
				stmts = append(stmts, "GRANT USAGE, CREATE ON SCHEMA "+s+" TO "+owner, "SET ROLE "+owner)
				switch tr.rng.IntN(5) {
				case 0:
					stmts = append(stmts, "CREATE VIEW "+name+" AS SELECT 1 AS one, 'n'::text AS note")
				case 1:
					stmts = append(stmts, "CREATE TABLE "+name+" (id int, note text) PARTITION BY RANGE (id)",
						"CREATE TABLE "+name+"_p1 PARTITION OF "+name+" FOR VALUES FROM (0) TO (10)")
				case 2:
					stmts = append(stmts, "CREATE FUNCTION "+name+"f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
						"REVOKE EXECUTE ON FUNCTION "+name+"f() FROM PUBLIC")
				default:
					stmts = append(stmts, "CREATE TABLE "+name+" (id serial primary key, note text)")
				}
				stmts = append(stmts, "RESET ROLE")
			}
		}
		tr.exec(db, stmts...)
		tr.revokeUsage(db, schemas, schemaOwner, objectOwners)
	}

	privs := []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "EXECUTE", "CREATE", "ALL"}
	nRoles := 1 + tr.rng.IntN(3)
	for i := range nRoles {
		var scopes []string
		for range 1 + tr.rng.IntN(2) {
			db := tr.pick(tr.dbs)
			if tr.rng.IntN(3) == 0 {
				scopes = append(scopes, db)
			} else {
				scopes = append(scopes, db+"."+tr.pick([]string{"public", "s0"}))
			}
		}
		var want []string
		for range 1 + tr.rng.IntN(3) {
			want = append(want, tr.pick(privs))
		}
		slices.Sort(want)
		want = slices.Compact(want)
		r := spec.Role{Resource: p, Label: fmt.Sprintf("r%d", i), Scopes: scopes, Privileges: want}
		n, err := r.Normalize()
		if err != nil {
			// Overlapping scopes are refused by the spec: fine, try fewer.
			r.Scopes = scopes[:1]
			if n, err = r.Normalize(); err != nil {
				tr.fatalf("normalize %+v: %v", r, err)
			}
		}
		name, err := spec.RoleName("stile", n.Resource, n.Label)
		if err != nil {
			tr.fatalf("role name: %v", err)
		}
		tr.logf("declare %s: scopes %v privileges %v", name, n.Scopes, n.Privileges)
		in, err := plan.NewInput(n, name)
		if err != nil {
			tr.fatalf("input: %v", err)
		}
		in.Host, in.Port, in.AdminUser = tr.tg.Host, tr.tg.Port, tr.tg.User
		// Strict column rules, for some roles: every note column, or
		// every column of s0.
		switch tr.srng.IntN(4) {
		case 0:
			in.Strict = []string{"*.*.*.note"}
		case 1:
			in.Strict = []string{"*.s0.*.*"}
		}
		if in.Strict != nil {
			tr.logf("strict %s: %v", name, in.Strict)
		}
		tr.roles = append(tr.roles, in)
	}
	tr.declareGroup(privs)
}

// declareGroup, in half the trials, declares a group with scopes and
// privileges of its own, first (a member planned alone needs it to exist),
// and makes some of the roles its members: they hold its privileges
// through membership. A member has no strict rules (the planner refuses
// them with groups).
func (tr *trial) declareGroup(privs []string) {
	if tr.grng.IntN(2) != 0 {
		return
	}
	db := tr.dbs[tr.grng.IntN(len(tr.dbs))]
	scope := db
	if tr.grng.IntN(2) == 0 {
		scope = db + "." + []string{"public", "s0"}[tr.grng.IntN(2)]
	}
	r, err := spec.Role{Resource: tr.p, Type: spec.Group, Label: "g0", Scopes: []string{scope}, Privileges: []string{privs[tr.grng.IntN(len(privs))]}}.Normalize()
	if err != nil {
		tr.fatalf("normalize the group: %v", err)
	}
	name, err := spec.RoleName("stile", r.Resource, r.Label)
	if err != nil {
		tr.fatalf("role name: %v", err)
	}
	in, err := plan.NewInput(r, name)
	if err != nil {
		tr.fatalf("input: %v", err)
	}
	in.Host, in.Port, in.AdminUser = tr.tg.Host, tr.tg.Port, tr.tg.User
	tr.group = name
	tr.logf("declare group %s: scopes %v privileges %v", name, r.Scopes, r.Privileges)
	for i := range tr.roles {
		if tr.grng.IntN(3) == 0 {
			continue
		}
		tr.roles[i].Role.MemberOf = []string{"g0"}
		tr.roles[i].MemberOf = []string{name}
		tr.roles[i].Strict = nil
		tr.logf("member of %s: %s", name, tr.roles[i].RoleName)
	}
	tr.roles = append([]plan.Input{in}, tr.roles...)
}

// lateMember reports a role with CREATE that joins a group without CREATE
// declared in the same batch: the batch applies it first, and refuses it
// until the group exists.
func (tr *trial) lateMember(in plan.Input) bool {
	g := tr.groupOf(in)
	return g != nil && slices.Contains(in.Role.Privileges, "CREATE") && !slices.Contains(g.Role.Privileges, "CREATE")
}

// groupOf is the group in joins, or nil.
func (tr *trial) groupOf(in plan.Input) *plan.Input {
	if len(in.MemberOf) == 0 {
		return nil
	}
	return &tr.roles[0]
}

func (tr *trial) input(i int) plan.Input {
	in := tr.roles[i]
	in.HasPassword = tr.hasPW[in.RoleName]
	return in
}

func (tr *trial) plan(i int) plan.Result {
	tr.t.Helper()
	res, err := apply.Plan(context.Background(), tr.tg, []plan.Input{tr.input(i)})
	if err != nil {
		tr.fatalf("plan: %v", err)
	}
	return res[0]
}

// converge plans and applies every role, one at a time, in rounds, until a
// round applies nothing; it fails past maxRounds.
func (tr *trial) converge(why string, maxRounds int) {
	tr.t.Helper()
	for round := 1; ; round++ {
		applied := 0
		for i := range tr.roles {
			res := tr.plan(i)
			switch res.Status {
			case plan.ItemInSync:
				continue
			case plan.ItemFailed:
				tr.fatalf("%s: round %d: plan of %s failed: %s\n%s", why, round, tr.roles[i].RoleName, res.Message, res.Document.SQLPlan)
			}
			if round > maxRounds {
				tr.fatalf("%s: %s still out of sync after %d rounds:\n%s", why, tr.roles[i].RoleName, maxRounds, res.Document.SQLPlan)
			}
			job := apply.Job{Target: tr.tg, Input: tr.input(i), Checksum: res.Document.Checksum, State: res.Document.CurrentState}
			if res.NeedsPassword {
				job.Verifier = secret.ScramVerifier(secret.NewPassword())
			}
			rep := apply.Run(context.Background(), job)
			tr.logf("%s round %d: apply %s: %s %s", why, round, tr.roles[i].RoleName, rep.Outcome, rep.Message)
			if rep.Password == apply.PasswordSet {
				tr.hasPW[tr.roles[i].RoleName] = true
			}
			if rep.Outcome != apply.Applied {
				tr.fatalf("%s: round %d: apply of %s: %s: %s\nplan:\n%s\noutput:\n%s", why, round, tr.roles[i].RoleName, rep.Outcome, rep.Message, res.Document.SQLPlan, rep.Output)
			}
			applied++
		}
		if applied == 0 {
			return
		}
	}
}

func (tr *trial) run() {
	if tr.batch {
		// Planned and applied as one batch (plan -f, apply -f): one round,
		// unless two roles have CREATE (the first of them then takes a
		// second).
		tr.applyBatch()
		creators := 0
		for _, in := range tr.roles {
			if slices.Contains(in.Role.Privileges, "CREATE") {
				creators++
			}
		}
		rounds := min(max(creators-1, 0), 1)
		if tr.removes {
			rounds++ // an entry refused as drift after the creator went
		}
		if slices.ContainsFunc(tr.roles, tr.lateMember) {
			rounds++ // a creator refused until its group exists
		}
		tr.converge("after the batch", rounds)
	} else {
		// One at a time, interdependent roles (CREATE) may need a second
		// round; never a third.
		tr.converge("converge", 2)
	}
	tr.check("after converge")

	// Every creator makes a new table in each schema it may create in:
	// default privileges must cover them, and nothing is left to do.
	for _, db := range tr.dbs {
		var stmts []string
		for _, r := range tr.creators(db) {
			stmts = append(stmts, "SET ROLE "+pgx.Identifier{r.role}.Sanitize(), fmt.Sprintf("CREATE TABLE %s.n_%s (id int, note text)", r.schema, shortHash(r.role)), "RESET ROLE")
		}
		if len(stmts) > 0 {
			tr.exec(db, stmts...)
		}
	}
	// Default privileges leave SELECT out where strict rules reach (a new
	// table waits for the next apply): one round for those. Until then,
	// what the rules withhold is not readable either.
	tr.checkWithheld("new objects, before an apply")
	tr.converge("after new objects", tr.strictRounds())
	tr.check("after new objects")

	// Drift by hand, found and repaired in one apply per role.
	for range 3 {
		before := tr.fingerprint()
		tr.drift()
		if tr.fingerprint() == before {
			continue // the change was a no-op (the role held it already)
		}
		found := false
		for i := range tr.roles {
			found = found || tr.plan(i).Status == plan.ItemOutOfSync
		}
		if !found {
			tr.fatalf("drift by hand (%s) left every plan in sync", tr.log[len(tr.log)-1])
		}
		tr.converge("repair", 1)
		tr.check("after repair")
	}
}

// applyBatch plans every role in one batch and applies them as one
// apply.RunBatch, in the batch's order: one lock, one catalog read, and a
// fresh read only when a role applied earlier in the batch changed what a
// later one sees.
func (tr *trial) applyBatch() {
	tr.t.Helper()
	inputs := make([]plan.Input, len(tr.roles))
	for i := range tr.roles {
		inputs[i] = tr.input(i)
	}
	plan.DeclareCreators(inputs)
	order := plan.ApplyOrder(inputs)
	tr.removeCreator(inputs, order)
	results, err := apply.Plan(context.Background(), tr.tg, inputs)
	if err != nil {
		tr.fatalf("batch plan: %v", err)
	}
	jobs := make([]apply.Job, len(order))
	for k, i := range order {
		res := results[i]
		if res.Status != plan.ItemOutOfSync {
			tr.fatalf("batch plan of %s: %s %s\n%s", inputs[i].RoleName, res.Status, res.Message, res.Document.SQLPlan)
		}
		jobs[k] = apply.Job{Target: tr.tg, Input: inputs[i], Checksum: res.Document.Checksum, State: res.Document.CurrentState}
		if res.NeedsPassword {
			jobs[k].Verifier = secret.ScramVerifier(secret.NewPassword())
		}
	}
	reported := 0
	reps := apply.RunBatch(context.Background(), jobs, func(k int, rep apply.Report) {
		if k != reported {
			tr.fatalf("batch report %d arrived as report %d", k, reported)
		}
		reported++
	})
	if reported != len(jobs) {
		tr.fatalf("batch reported %d of %d jobs", reported, len(jobs))
	}
	for k, rep := range reps {
		i := order[k]
		tr.logf("batch: apply %s: %s %s", inputs[i].RoleName, rep.Outcome, rep.Message)
		if rep.Outcome == apply.Drifted && tr.removes && k > 0 {
			continue // re-planned after the creator went: the next round applies it
		}
		if rep.Outcome == apply.Failed && tr.lateMember(inputs[i]) && strings.Contains(rep.Message, "does not exist yet") {
			continue // applied before its group: the next round applies it
		}
		if rep.Outcome != apply.Applied {
			tr.fatalf("batch apply of %s: %s: %s\nplan:\n%s\noutput:\n%s", inputs[i].RoleName, rep.Outcome, rep.Message, results[i].Document.SQLPlan, rep.Output)
		}
		if rep.Password == apply.PasswordSet {
			tr.hasPW[inputs[i].RoleName] = true
		}
	}
}

type creator struct{ role, schema string }

// creators lists who may create in which schema of db: each role with
// CREATE there, directly (owners and managed roles with CREATE). Managed
// roles count only where the admin can set default privileges for them: a
// superuser, or on 16+ the CREATEROLE admin that made them.
func (tr *trial) creators(db string) []creator {
	conn := tr.conn(db)
	rows, err := conn.Query(context.Background(), `
		SELECT DISTINCT pg_get_userbyid(a.grantee)::text, n.nspname::text
		FROM pg_namespace n, aclexplode(n.nspacl) a
		WHERE a.privilege_type = 'CREATE' AND a.grantee <> 0 AND pg_get_userbyid(a.grantee) LIKE $1
		ORDER BY 1, 2`, tr.p+"%")
	if err != nil {
		tr.fatalf("creators: %v", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (creator, error) {
		var c creator
		return c, r.Scan(&c.role, &c.schema)
	})
	if err != nil {
		tr.fatalf("creators: %v", err)
	}
	return slices.DeleteFunc(out, func(c creator) bool {
		managed := strings.HasPrefix(c.role, "stile_")
		return managed && !tr.super && tr.c.Major() < 16
	})
}

// fingerprint is every ACL and default ACL of the test's databases and the
// declared roles' attributes: whether a change by hand changed anything.
func (tr *trial) fingerprint() string {
	var b strings.Builder
	for _, db := range tr.dbs {
		var fp string
		// NULL ACLs read as the owner's defaults, items sorted: a REVOKE
		// that only materializes a NULL ACL changes nothing.
		if err := tr.conn(db).QueryRow(context.Background(), `SELECT concat_ws('|',
			(SELECT string_agg(c.oid::text || ':' || (SELECT string_agg(x::text, ',' ORDER BY x::text)
			        FROM unnest(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) x), ';' ORDER BY c.oid)
			 FROM pg_class c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')),
			(SELECT string_agg(n.oid::text || ':' || (SELECT string_agg(x::text, ',' ORDER BY x::text)
			        FROM unnest(coalesce(n.nspacl, acldefault('n', n.nspowner))) x), ';' ORDER BY n.oid) FROM pg_namespace n),
			(SELECT string_agg(d.oid::text || ':' || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(d.defaclacl) x), ';' ORDER BY d.oid)
			 FROM pg_default_acl d),
			(SELECT string_agg(a.attrelid::text || '.' || a.attnum || ':' || a.attacl::text, ';' ORDER BY a.attrelid, a.attnum)
			 FROM pg_attribute a WHERE a.attacl IS NOT NULL))`).Scan(&fp); err != nil {
			tr.fatalf("fingerprint: %v", err)
		}
		b.WriteString(fp)
	}
	var names []string
	for _, in := range tr.roles {
		names = append(names, in.RoleName)
	}
	var roles string
	if err := tr.conn("postgres").QueryRow(context.Background(), `SELECT string_agg(concat_ws(':', r.rolname, r.rolcreatedb, r.rolconnlimit, r.rolvaliduntil,
			(SELECT string_agg(m.roleid::text, ',' ORDER BY m.roleid) FROM pg_auth_members m WHERE m.member = r.oid)), ';' ORDER BY r.rolname)
		FROM pg_roles r WHERE r.rolname = ANY($1)`, names).Scan(&roles); err != nil {
		tr.fatalf("fingerprint: %v", err)
	}
	return b.String() + roles
}

// drift changes one thing by hand; it reports false when it found nothing
// to change.
func (tr *trial) drift() bool {
	if tr.group != "" && tr.grng.IntN(4) == 0 {
		// A member leaves its group by hand, revoked by the admin that
		// granted it.
		var members []string
		for _, in := range tr.roles {
			if len(in.MemberOf) > 0 {
				members = append(members, in.RoleName)
			}
		}
		if len(members) > 0 {
			revoke := []string{"REVOKE " + pgx.Identifier{tr.group}.Sanitize() + " FROM " + pgx.Identifier{members[tr.grng.IntN(len(members))]}.Sanitize()}
			if !tr.super {
				revoke = append([]string{"SET ROLE " + tr.tg.User}, append(revoke, "RESET ROLE")...)
			}
			tr.exec("postgres", revoke...)
			return true
		}
	}
	i := tr.rng.IntN(len(tr.roles))
	role := pgx.Identifier{tr.roles[i].RoleName}.Sanitize()
	db := tr.pick(tr.dbs)
	objs := tr.objects(db)
	var tables []object
	for _, o := range objs {
		if o.kind == "table" && !strings.HasPrefix(o.owner, "stile_") {
			tables = append(tables, o)
		}
	}
	switch tr.rng.IntN(9) {
	case 0:
		if len(tables) == 0 {
			return false
		}
		o := tables[tr.rng.IntN(len(tables))]
		tr.exec(db, "GRANT "+tr.pick([]string{"INSERT", "DELETE", "TRUNCATE", "SELECT"})+" ON "+o.sql()+" TO "+role)
	case 1:
		if len(tables) == 0 {
			return false
		}
		o := tables[tr.rng.IntN(len(tables))]
		x := tr.p + "_x"
		// As the superuser, which grants as the owner: the owner may lack
		// USAGE on the schema.
		tr.exec(db, "GRANT USAGE ON SCHEMA "+o.schema+" TO "+x, "GRANT SELECT ON "+o.sql()+" TO "+x+" WITH GRANT OPTION",
			"SET ROLE "+x, "GRANT SELECT ON "+o.sql()+" TO "+role, "RESET ROLE")
	case 2:
		if len(tables) == 0 {
			return false
		}
		o := tables[tr.rng.IntN(len(tables))]
		tr.exec(db, "REVOKE ALL ON "+o.sql()+" FROM "+role)
	case 3:
		tr.exec(db, "ALTER DEFAULT PRIVILEGES FOR ROLE "+tr.pick(tr.owners)+" IN SCHEMA public GRANT UPDATE ON TABLES TO "+role)
	case 4:
		// A global default privilege: a schema-level REVOKE cannot undo it.
		tr.exec(db, "ALTER DEFAULT PRIVILEGES FOR ROLE "+tr.pick(tr.owners)+" GRANT SELECT ON TABLES TO "+role)
	case 5:
		if len(tables) == 0 {
			return false
		}
		o := tables[tr.rng.IntN(len(tables))]
		var col string
		if err := tr.conn(db).QueryRow(context.Background(), "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass AND attnum = 1", o.sql()).Scan(&col); err != nil {
			tr.fatalf("drift: first column of %s: %v", o.sql(), err)
		}
		tr.exec(db, "GRANT UPDATE ("+pgx.Identifier{col}.Sanitize()+") ON "+o.sql()+" TO "+role)
	case 6:
		// A membership, granted by the admin (a CREATEROLE admin may not
		// revoke the bootstrap superuser's grant on 16+: that fails the
		// plan by design, tested apart).
		grant := []string{"GRANT " + tr.p + "_x TO " + role}
		if !tr.super {
			grant = append([]string{"SET ROLE " + tr.tg.User}, append(grant, "RESET ROLE")...)
		}
		tr.exec("postgres", grant...)
	case 7:
		tr.exec("postgres", "ALTER ROLE "+role+" VALID UNTIL '2031-01-01'")
	default:
		tr.exec("postgres", "ALTER ROLE "+role+" CREATEDB CONNECTION LIMIT 3")
	}
	return true
}

// object is a relation or function of a test database.
type object struct {
	schema, name, kind, owner string // kind: table, sequence, function
}

func (o object) sql() string {
	if o.kind == "function" {
		return "FUNCTION " + pgx.Identifier{o.schema, o.name}.Sanitize() + "()"
	}
	return pgx.Identifier{o.schema, o.name}.Sanitize()
}

func (tr *trial) objects(db string) []object {
	conn := tr.conn(db)
	rows, err := conn.Query(context.Background(), `
		SELECT n.nspname::text, c.relname::text, CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, pg_get_userbyid(c.relowner)::text
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
		UNION ALL
		SELECT n.nspname::text, p.proname::text, 'function', pg_get_userbyid(p.proowner)::text
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
		ORDER BY 1, 2`)
	if err != nil {
		tr.fatalf("objects: %v", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (object, error) {
		var o object
		return o, r.Scan(&o.schema, &o.name, &o.kind, &o.owner)
	})
	if err != nil {
		tr.fatalf("objects: %v", err)
	}
	return out
}

// expect is what a declaration means for one database: the privileges of
// the role on each kind of object in each scoped schema. It is written from
// the documentation, not from the planner.
type expect struct {
	connect bool
	schemas map[string]bool // scoped schemas
	table   []string
	seq     []string
	execute bool
	create  bool
}

func (tr *trial) expectation(in plan.Input, db string) expect {
	e := expect{schemas: map[string]bool{}}
	privs := in.Role.Privileges
	has := func(p string) bool { return slices.Contains(privs, p) || slices.Contains(privs, "ALL") }
	for _, p := range spec.TablePrivileges {
		if p == "MAINTAIN" && tr.c.Major() < 17 {
			continue
		}
		if has(p) {
			e.table = append(e.table, p)
		}
	}
	switch {
	case has("INSERT") || has("UPDATE"):
		e.seq = []string{"USAGE", "SELECT"}
	case has("SELECT"):
		e.seq = []string{"SELECT"}
	}
	e.execute = slices.Contains(privs, "EXECUTE")
	e.create = slices.Contains(privs, "CREATE")
	for _, sc := range in.Scopes {
		if sc.Database != db {
			continue
		}
		e.connect = true
		if sc.Schema != "" {
			e.schemas[sc.Schema] = true
			continue
		}
		for _, s := range tr.schemas(db) {
			if !sc.Excludes(s) {
				e.schemas[s] = true
			}
		}
	}
	return e
}

func (tr *trial) schemas(db string) []string {
	rows, err := tr.conn(db).Query(context.Background(), `SELECT nspname::text FROM pg_namespace
		WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%' ORDER BY 1`)
	if err != nil {
		tr.fatalf("schemas: %v", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tr.fatalf("schemas: %v", err)
	}
	return out
}

// check compares every privilege of every role on every object of the
// test's databases with the expectation, and re-plans: nothing to do.
func (tr *trial) check(when string) {
	tr.t.Helper()
	ctx := context.Background()
	for i, in := range tr.roles {
		g := tr.groupOf(in)
		for _, db := range tr.dbs {
			// A member holds its group's privileges too (INHERIT).
			es := []expect{tr.expectation(in, db)}
			if g != nil {
				es = append(es, tr.expectation(*g, db))
			}
			anyOf := func(f func(expect) bool) bool { return slices.ContainsFunc(es, f) }
			conn := tr.conn(db)
			var problems []string
			q := func(what string, want bool, sql string, args ...any) {
				var got bool
				if err := conn.QueryRow(ctx, sql, args...).Scan(&got); err != nil {
					tr.fatalf("%s: %s: %v", when, what, err)
				}
				if got != want {
					problems = append(problems, fmt.Sprintf("%s: has %v, want %v", what, got, want))
				}
			}
			q("CONNECT on "+db, anyOf(func(e expect) bool { return e.connect }), "SELECT has_database_privilege($1, $2, 'CONNECT')", in.RoleName, db)
			q("TEMPORARY on "+db, false, "SELECT has_database_privilege($1, $2, 'TEMPORARY')", in.RoleName, db)
			for _, s := range tr.schemas(db) {
				q("USAGE on schema "+s, anyOf(func(e expect) bool { return e.schemas[s] }), "SELECT has_schema_privilege($1, $2, 'USAGE')", in.RoleName, s)
				q("CREATE on schema "+s, anyOf(func(e expect) bool { return e.schemas[s] && e.create }), "SELECT has_schema_privilege($1, $2, 'CREATE')", in.RoleName, s)
			}
			for _, o := range tr.objects(db) {
				if o.owner == in.RoleName || (g != nil && o.owner == g.RoleName) {
					continue // an owner holds everything on what it made, and so do its members
				}
				holds := func(f func(e expect) bool) bool {
					return anyOf(func(e expect) bool { return e.schemas[o.schema] && f(e) })
				}
				ident := pgx.Identifier{o.schema, o.name}.Sanitize()
				switch o.kind {
				case "table":
					withheld := tr.withheld(tr.roles[i], db, o)
					for _, p := range spec.TablePrivileges {
						if p == "MAINTAIN" && tr.c.Major() < 17 {
							continue
						}
						want := holds(func(e expect) bool { return slices.Contains(e.table, p) })
						if p == "SELECT" && len(withheld) > 0 {
							want = false // granted column by column
						}
						q(p+" on "+ident, want, "SELECT has_table_privilege($1, $2, $3)", tr.roles[i].RoleName, ident, p)
					}
					if holds(func(e expect) bool { return slices.Contains(e.table, "SELECT") }) {
						for _, col := range tr.columns(db, o) {
							q("SELECT on "+ident+"."+col, !slices.Contains(withheld, col), "SELECT has_column_privilege($1, $2, $3, 'SELECT')", tr.roles[i].RoleName, ident, col)
						}
					}
				case "sequence":
					for _, p := range []string{"USAGE", "SELECT", "UPDATE"} {
						q(p+" on sequence "+ident, holds(func(e expect) bool { return slices.Contains(e.seq, p) }), "SELECT has_sequence_privilege($1, $2, $3)", tr.roles[i].RoleName, ident, p)
					}
				case "function":
					q("EXECUTE on "+ident+"()", holds(func(e expect) bool { return e.execute }), "SELECT has_function_privilege($1, $2, 'EXECUTE')", tr.roles[i].RoleName, ident+"()")
				}
			}
			if len(problems) > 0 {
				tr.fatalf("%s: %s in %s (scopes %v, privileges %v):\n  %s", when, in.RoleName, db, in.Role.Scopes, in.Role.Privileges, strings.Join(problems, "\n  "))
			}
		}
		// The role itself: LOGIN INHERIT (a group NOLOGIN), nothing else,
		// no memberships but in its group, without ADMIN (and on 16+ with
		// INHERIT).
		var attrs string
		inherit := "true"
		if tr.c.Major() >= 16 {
			inherit = "m.inherit_option"
		}
		if err := tr.conn("postgres").QueryRow(ctx, `SELECT concat_ws(' ', rolcanlogin, rolinherit, rolsuper, rolcreatedb, rolcreaterole,
				rolreplication, rolbypassrls, rolconnlimit, coalesce(rolvaliduntil::text, 'infinity'),
				'['||(SELECT string_agg(concat_ws(':', pg_get_userbyid(m.roleid), m.admin_option, `+inherit+`), ',') FROM pg_auth_members m WHERE m.member = r.oid)||']')
			FROM pg_roles r WHERE rolname = $1`, in.RoleName).Scan(&attrs); err != nil {
			tr.fatalf("%s: attributes of %s: %v", when, in.RoleName, err)
		}
		want := "t t f f f f f -1 infinity"
		if in.Role.Type == spec.Group {
			want = "f t f f f f f -1 infinity"
		}
		if g != nil {
			want += " [" + g.RoleName + ":f:t]"
		}
		if attrs != want {
			tr.fatalf("%s: %s has login, inherit, superuser, createdb, createrole, replication, bypassrls, connection limit, valid until, [memberships:admin:inherit] = %s, want %s", when, in.RoleName, attrs, want)
		}
		if res := tr.plan(i); res.Status != plan.ItemInSync {
			tr.fatalf("%s: re-plan of %s is %s (%s):\n%s", when, in.RoleName, res.Status, res.Message, res.Document.SQLPlan)
		}
	}
}

// checkWithheld fails the trial if a role can read a column its strict
// rules withhold, anywhere.
func (tr *trial) checkWithheld(when string) {
	tr.t.Helper()
	for _, in := range tr.roles {
		if len(in.Strict) == 0 {
			continue
		}
		for _, db := range tr.dbs {
			for _, o := range tr.objects(db) {
				if o.kind != "table" || o.owner == in.RoleName {
					continue
				}
				ident := pgx.Identifier{o.schema, o.name}.Sanitize()
				for _, col := range tr.withheld(in, db, o) {
					var got bool
					if err := tr.conn(db).QueryRow(context.Background(), "SELECT has_column_privilege($1, $2, $3, 'SELECT')", in.RoleName, ident, col).Scan(&got); err != nil {
						tr.fatalf("%s: %v", when, err)
					}
					if got {
						tr.fatalf("%s: %s can read %s.%s, which its strict rules %v withhold", when, in.RoleName, ident, col, in.Strict)
					}
				}
			}
		}
	}
}

// strictRounds is how many apply rounds new tables take: one when a role
// has strict column rules, none otherwise.
func (tr *trial) strictRounds() int {
	for _, in := range tr.roles {
		if len(in.Strict) > 0 {
			return 1
		}
	}
	return 0
}

// columns lists a relation's columns.
func (tr *trial) columns(db string, o object) []string {
	rows, err := tr.conn(db).Query(context.Background(), `SELECT attname::text FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, pgx.Identifier{o.schema, o.name}.Sanitize())
	if err != nil {
		tr.fatalf("columns: %v", err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tr.fatalf("columns: %v", err)
	}
	return cols
}

// withheld lists the columns of o that in's strict rules withhold, by
// path.Match, not by the planner's code.
func (tr *trial) withheld(in plan.Input, db string, o object) []string {
	var out []string
	for _, col := range tr.columns(db, o) {
		for _, pat := range in.Strict {
			parts := strings.Split(pat, ".")
			ok := true
			for k, v := range []string{db, o.schema, o.name, col} {
				m, _ := path.Match(parts[k], v)
				ok = ok && m
			}
			if ok {
				out = append(out, col)
				break
			}
		}
	}
	return out
}

func shortHash(s string) string {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return fmt.Sprintf("%08x", h)
}

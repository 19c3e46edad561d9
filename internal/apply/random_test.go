package apply_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
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
// rules; in some trials a group with some of them as members) and
// converges them one at a time or as one batch, as a superuser or a
// CREATEROLE admin. Then an oracle that does not
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
// declared in the same batch: each needs the other to exist, so the group
// sets default privileges for it only in a second round.
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
			rounds++ // a group's default privileges for its creator member
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
		if rep.Outcome != apply.Applied {
			tr.fatalf("batch apply of %s: %s: %s\nplan:\n%s\noutput:\n%s", inputs[i].RoleName, rep.Outcome, rep.Message, results[i].Document.SQLPlan, rep.Output)
		}
		if rep.Password == apply.PasswordSet {
			tr.hasPW[inputs[i].RoleName] = true
		}
	}
}

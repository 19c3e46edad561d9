package apply_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
)

// The tests in this file are the repros of issue 9's planner findings, each
// on a real cluster: they failed before their fix.

// mustApply applies res and fails the test unless it applied.
func (f *fixture) mustApply(in plan.Input, res plan.Result) {
	f.t.Helper()
	if rep := f.apply(in, res); rep.Outcome != apply.Applied {
		f.t.Fatalf("apply %s: %s: %s\nplan:\n%s\noutput:\n%s", in.RoleName, rep.Outcome, rep.Message, res.Document.SQLPlan, rep.Output)
	}
}

// mustBeInSync plans in and fails the test unless nothing is to do.
func (f *fixture) mustBeInSync(in plan.Input) {
	f.t.Helper()
	in.HasPassword, in.Role.RotatePassword = true, false
	if res := f.plan(in); res.Status != plan.ItemInSync {
		f.t.Fatalf("%s is %s (%s), want in sync:\n%s", in.RoleName, res.Status, res.Message, res.Document.SQLPlan)
	}
}

// mustFail plans in and fails the test unless the plan failed with a
// message holding every want.
func (f *fixture) mustFail(in plan.Input, want ...string) plan.Result {
	f.t.Helper()
	res := f.plan(in)
	if res.Status != plan.ItemFailed {
		f.t.Fatalf("%s is %s (%s), want failed:\n%s", in.RoleName, res.Status, res.Message, res.Document.SQLPlan)
	}
	for _, w := range want {
		if !strings.Contains(res.Message, w) {
			f.t.Errorf("failure message %q lacks %q", res.Message, w)
		}
	}
	return res
}

// adminFixture makes a LOGIN CREATEROLE admin (not a superuser), database
// p_app owned by it, and schema s owned by p_owner with table s.t; the
// admin can act for the owner.
func adminFixture(t *testing.T, c pgtest.Cluster) (*fixture, string) {
	p := c.Prefix(t)
	admin, owner := p+"_admin", p+"_owner"
	c.Exec(t, "postgres",
		"CREATE ROLE "+admin+" LOGIN CREATEROLE PASSWORD 'adminpw'",
		"CREATE ROLE "+owner,
		"GRANT "+owner+" TO "+admin,
		"CREATE DATABASE "+p+"_app OWNER "+admin,
	)
	c.Exec(t, p+"_app",
		"CREATE SCHEMA s AUTHORIZATION "+owner,
		"SET ROLE "+owner,
		"CREATE TABLE s.t (id serial primary key)",
		"RESET ROLE",
	)
	return &fixture{t: t, c: c, tg: c.As(admin, "adminpw"), p: p}, admin
}

// TestTwoRolesOneCreatorConverge is bug 1: two managed roles on one schema,
// one with CREATE. The reader's default privileges FOR ROLE writer are the
// reader's state, never the writer's unmanaged drift: one role at a time,
// everything converges in two rounds and stays converged.
func TestTwoRolesOneCreatorConverge(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		p := c.Prefix(t)
		c.Exec(t, "postgres", "CREATE ROLE "+p+"_appowner NOLOGIN", "CREATE DATABASE "+p+"_app")
		c.Exec(t, p+"_app", "CREATE SCHEMA s AUTHORIZATION "+p+"_appowner")
		f := &fixture{t: t, c: c, tg: c.Target(), p: p}
		writer := f.input(spec.Role{Resource: "res" + p, Label: "writer", Scopes: []string{p + "_app.s"}, Privileges: []string{"SELECT", "CREATE"}})
		reader := f.input(spec.Role{Resource: "res" + p, Label: "reader", Scopes: []string{p + "_app.s"}, Privileges: []string{"SELECT"}})

		// Round 1: both planned, then both applied; the writer became a
		// creator in between, so the reader's apply is refused.
		pw, pr := f.plan(writer), f.plan(reader)
		f.mustApply(writer, pw)
		if rep := f.apply(reader, pr); rep.Outcome != apply.Drifted {
			t.Fatalf("reader's stale apply: %s %s, want drift", rep.Outcome, rep.Message)
		}
		// Round 2.
		f.mustBeInSync(writer)
		f.mustApply(reader, f.plan(reader))
		// Round 3 and after: both in sync.
		f.mustBeInSync(writer)
		f.mustBeInSync(reader)

		// What the writer creates, the reader reads.
		// Types and domains it makes in its scope are owned there, like
		// its tables, not unmanaged drift.
		c.Exec(t, p+"_app", `SET ROLE "`+writer.RoleName+`"`, "CREATE TABLE s.w (id int)",
			"CREATE TYPE s.mood AS ENUM ('ok')", "CREATE DOMAIN s.pos AS int CHECK (VALUE > 0)", "RESET ROLE")
		var ok bool
		if err := c.Conn(t, p+"_app").QueryRow(context.Background(), "SELECT has_table_privilege($1, 's.w', 'SELECT')", reader.RoleName).Scan(&ok); err != nil || !ok {
			t.Fatalf("reader's SELECT on the writer's new table: %v %v", ok, err)
		}
		f.mustBeInSync(writer)
		f.mustBeInSync(reader)

		// Planned as one batch, a reader listed before a new writer counts
		// it as a creator up front: one round converges both. The reader's
		// plan requires the writer: applied first it is refused, nothing
		// run.
		c.Exec(t, p+"_app", "CREATE SCHEMA b AUTHORIZATION "+p+"_appowner")
		batch := []plan.Input{
			f.input(spec.Role{Resource: "res" + p, Label: "breader", Scopes: []string{p + "_app.b"}, Privileges: []string{"SELECT"}}),
			f.input(spec.Role{Resource: "res" + p, Label: "bwriter", Scopes: []string{p + "_app.b"}, Privileges: []string{"SELECT", "CREATE"}}),
		}
		plan.DeclareCreators(batch)
		results, err := apply.Plan(context.Background(), f.tg, batch)
		if err != nil {
			t.Fatal(err)
		}
		if req := results[0].Document.Requires; len(req) != 1 || req[0] != batch[1].RoleName {
			t.Fatalf("the batch reader requires %v, want [%s]:\n%s", req, batch[1].RoleName, results[0].Document.SQLPlan)
		}
		if rep := f.apply(batch[0], results[0]); rep.Outcome != apply.Failed || !strings.Contains(rep.Message, "apply its plan first") {
			t.Fatalf("reader applied before its writer: %s %s", rep.Outcome, rep.Message)
		}
		for _, i := range plan.ApplyOrder(batch) {
			f.mustApply(batch[i], results[i])
		}
		f.mustBeInSync(batch[0])
		f.mustBeInSync(batch[1])
	})
}

// TestThirdPartyGrantorWithoutSet is bug 2 (16+): the admin inherits the
// third-party grantor but may not SET ROLE to it, so it cannot revoke the
// grant: the plan fails naming the grantor and the fix. On 15, where any
// membership allows SET ROLE, the grant is revoked as its grantor.
func TestThirdPartyGrantorWithoutSet(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		f, admin := adminFixture(t, c)
		p := f.p
		in := f.input(spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_app.s"}, Privileges: []string{"SELECT"}})
		f.converge(in)
		in.HasPassword = true
		x := p + "_x"
		member := "GRANT " + x + " TO " + admin
		if c.Major() >= 16 {
			member += " WITH INHERIT TRUE, SET FALSE"
		}
		c.Exec(t, "postgres", "CREATE ROLE "+x, member)
		c.Exec(t, p+"_app",
			"GRANT USAGE ON SCHEMA s TO "+x,
			"GRANT SELECT ON s.t TO "+x+" WITH GRANT OPTION",
			"SET ROLE "+x, `GRANT SELECT ON s.t TO "`+in.RoleName+`"`, "RESET ROLE")
		if c.Major() >= 16 {
			f.mustFail(in, `"`+x+`"`, `GRANT "`+x+`" TO "`+admin+`" WITH SET TRUE;`)
			c.Exec(t, "postgres", `GRANT "`+x+`" TO "`+admin+`" WITH SET TRUE`)
		}
		res := f.converge(in)
		mustContain(t, res.Document.SQLPlan, `SET ROLE "`+x+`"`, `REVOKE SELECT ON TABLE "s"."t" FROM "`+in.RoleName+`"`)
	})
}

// TestHandMadeDefaultsForUncoveredCreator is bug 3: default privileges made
// by hand FOR ROLE a creator the admin cannot act for are the role's state.
// They fail the plan, naming the creator and the fix; once the admin can
// act for the creator, the extra privileges are revoked.
func TestHandMadeDefaultsForUncoveredCreator(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		f, admin := adminFixture(t, c)
		p := f.p
		cr := p + "_c"
		c.Exec(t, "postgres", "CREATE ROLE "+cr)
		c.Exec(t, p+"_app", "GRANT USAGE, CREATE ON SCHEMA s TO "+cr)
		in := f.input(spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_app.s"}, Privileges: []string{"SELECT"}})
		first := f.converge(in)
		if !strings.Contains(strings.Join(first.Document.CurrentState.UncoveredCreators, " "), cr) {
			t.Fatalf("uncovered creators = %v, want %s", first.Document.CurrentState.UncoveredCreators, cr)
		}
		in.HasPassword = true
		c.Exec(t, p+"_app", `ALTER DEFAULT PRIVILEGES FOR ROLE `+cr+` IN SCHEMA s GRANT SELECT, INSERT, DELETE ON TABLES TO "`+in.RoleName+`"`)
		fix := `GRANT "` + cr + `" TO "` + admin + `"`
		f.mustFail(in, `"`+cr+`"`, fix)
		if c.Major() >= 16 {
			fix += " WITH INHERIT TRUE"
		}
		c.Exec(t, "postgres", fix)
		res := f.converge(in)
		mustContain(t, res.Document.SQLPlan, `ALTER DEFAULT PRIVILEGES FOR ROLE "`+cr+`" IN SCHEMA "s" REVOKE INSERT, DELETE ON TABLES FROM`)
	})
}

// TestMembershipGrantorAdminCannotActFor is bug 4 (16+): a membership the
// bootstrap superuser granted cannot be revoked GRANTED BY it by a
// CREATEROLE admin: the plan fails naming the grantor and the fix. On 15,
// where REVOKE removes a membership whatever its grantor, it is revoked.
func TestMembershipGrantorAdminCannotActFor(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		f, admin := adminFixture(t, c)
		p := f.p
		grp := p + "_grp"
		c.Exec(t, "postgres", "CREATE ROLE "+grp, "GRANT "+grp+" TO "+admin+" WITH ADMIN OPTION")
		in := f.input(spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_app.s"}, Privileges: []string{"SELECT"}})
		f.converge(in)
		in.HasPassword = true
		c.Exec(t, "postgres", `GRANT `+grp+` TO "`+in.RoleName+`"`)
		if c.Major() < 16 {
			mustContain(t, f.converge(in).Document.SQLPlan, `REVOKE "`+grp+`" FROM "`+in.RoleName+`"`)
			return
		}
		f.mustFail(in, `"`+grp+`"`, `granted by "`+c.Target().User+`"`, `REVOKE "`+grp+`" FROM "`+in.RoleName+`" GRANTED BY "`+c.Target().User+`";`)
		// Granted by the admin itself, the membership is revoked.
		c.Exec(t, "postgres", `REVOKE `+grp+` FROM "`+in.RoleName+`"`)
		c.Exec(t, "postgres", "SET ROLE "+admin, `GRANT `+grp+` TO "`+in.RoleName+`"`, "RESET ROLE")
		f.converge(in)
	})
}

// TestRecordedGrantorIsTheOwner is bug 5: a non-superuser admin's GRANT is
// recorded under the first role it inherits that holds the grant option,
// not necessarily the owner: here x, older than the owner. Grants run as the
// owner, so what is recorded is what the plan expects, and a new role
// converges. The same for schema public, owned by pg_database_owner.
func TestRecordedGrantorIsTheOwner(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		p := c.Prefix(t)
		admin, x, owner := p+"_admin", p+"_x", p+"_owner"
		c.Exec(t, "postgres",
			"CREATE ROLE "+x, // older than the owner
			"CREATE ROLE "+owner,
			"CREATE ROLE "+admin+" LOGIN CREATEROLE PASSWORD 'adminpw'",
			"GRANT "+x+" TO "+admin,
			"GRANT "+owner+" TO "+admin,
			"CREATE DATABASE "+p+"_app OWNER "+admin,
		)
		c.Exec(t, p+"_app",
			"CREATE SCHEMA s AUTHORIZATION "+owner,
			"SET ROLE "+owner,
			"CREATE TABLE s.t (id int)",
			"GRANT USAGE ON SCHEMA s TO "+x+" WITH GRANT OPTION",
			"GRANT SELECT ON s.t TO "+x+" WITH GRANT OPTION",
			"RESET ROLE",
			"SET ROLE "+admin,
			"CREATE TABLE public.mine (id int)",
			"RESET ROLE",
		)
		f := &fixture{t: t, c: c, tg: c.As(admin, "adminpw"), p: p}
		in := f.input(spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_app.s", p + "_app.public"}, Privileges: []string{"SELECT"}})
		f.converge(in)
		in.HasPassword = true
		// A second role, planned after the first: on 16+ the admin now
		// inherits the first through createrole_self_grant.
		f.hasPW = false
		other := f.input(spec.Role{Resource: p, Label: "ro2", Scopes: []string{p + "_app.s", p + "_app.public"}, Privileges: []string{"SELECT"}})
		f.converge(other)
		f.mustBeInSync(in)
	})
}

// TestCreateDBTheAdminCannotRemove is bug 6 (16+): an admin without
// CREATEDB may not change the attribute; the plan fails with the fix. On 15
// CREATEROLE may change it, and the plan removes it.
func TestCreateDBTheAdminCannotRemove(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		f, admin := adminFixture(t, c)
		p := f.p
		in := f.input(spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_app.s"}, Privileges: []string{"SELECT"}})
		f.converge(in)
		in.HasPassword = true
		c.Exec(t, "postgres", `ALTER ROLE "`+in.RoleName+`" CREATEDB`)
		if c.Major() >= 16 {
			f.mustFail(in, "CREATEDB", `ALTER ROLE "`+admin+`" CREATEDB;`)
			c.Exec(t, "postgres", `ALTER ROLE "`+admin+`" CREATEDB`)
		}
		mustContain(t, f.converge(in).Document.SQLPlan, "NOCREATEDB")
	})
}

// TestBulkGrantSkipsOwnObjects: a non-superuser admin grants ON ALL TABLES
// IN SCHEMA as the owner, which also reaches the tables the role made
// itself; the owner holds no grant option there, so PostgreSQL warns and
// the block fails. The plan grants per object instead.
func TestBulkGrantSkipsOwnObjects(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		f, _ := adminFixture(t, c)
		p := f.p
		in := f.input(spec.Role{Resource: p, Label: "w", Scopes: []string{p + "_app.s"}, Privileges: []string{"SELECT", "CREATE"}})
		f.converge(in)
		in.HasPassword = true
		c.Exec(t, p+"_app", `SET ROLE "`+in.RoleName+`"`, "CREATE TABLE s.mine (id int)", "RESET ROLE",
			`REVOKE ALL ON s.t FROM "`+in.RoleName+`"`, `REVOKE ALL ON SEQUENCE s.t_id_seq FROM "`+in.RoleName+`"`)
		res := f.converge(in)
		mustNotContain(t, res.Document.SQLPlan, "ON ALL TABLES")
	})
}

// TestGroupWithCreatorMember is what seed 7213 of the randomized converge
// found: a group without CREATE and a role with CREATE that joins it, in
// one batch. The group's plan set default privileges for the creator (a
// declared creator before it) and the creator's plan granted it the group:
// each required the other, and the batch refused one. Now the group
// applies first, counting its creating members only once they exist: one
// batch and one more round converge.
func TestGroupWithCreatorMember(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		f, _ := adminFixture(t, c)
		p := f.p
		group := f.input(spec.Role{Resource: "res" + p, Type: spec.Group, Label: "readers", Scopes: []string{p + "_app.s"}, Privileges: []string{"SELECT"}})
		writer := f.input(spec.Role{Resource: "res" + p, Label: "writer", Scopes: []string{p + "_app.s"}, Privileges: []string{"SELECT", "CREATE"}, MemberOf: []string{"readers"}})
		writer.MemberOf = []string{group.RoleName}
		batch := []plan.Input{writer, group}
		plan.DeclareCreators(batch)
		order := plan.ApplyOrder(batch)
		if order[0] != 1 {
			t.Fatalf("apply order %v: the group must come before its creating member", order)
		}
		results, err := apply.Plan(context.Background(), f.tg, batch)
		if err != nil {
			t.Fatal(err)
		}
		if req := results[1].Document.Requires; len(req) != 0 {
			t.Fatalf("the group requires %v:\n%s", req, results[1].Document.SQLPlan)
		}
		for _, i := range order {
			f.mustApply(batch[i], results[i])
		}
		writer.HasPassword = true
		f.mustBeInSync(writer)
		// The second round: the group's default privileges for its member
		// (on 15 a CREATEROLE admin cannot act for the roles it made: the
		// member is an uncovered creator, and the group is in sync).
		if c.Major() >= 16 {
			f.converge(group)
		}
		f.mustBeInSync(group)
		if c.Major() < 16 {
			return
		}
		c.Exec(t, p+"_app", `SET ROLE "`+writer.RoleName+`"`, "CREATE TABLE s.w (id int)", "RESET ROLE")
		var ok bool
		if err := c.Conn(t, p+"_app").QueryRow(context.Background(), "SELECT has_table_privilege($1, 's.w', 'SELECT')", group.RoleName).Scan(&ok); err != nil || !ok {
			t.Fatalf("the group's SELECT on its member's new table: %v %v", ok, err)
		}
	})
}

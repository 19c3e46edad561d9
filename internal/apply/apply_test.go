package apply_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/target"
)

type fixture struct {
	t        *testing.T
	c        pgtest.Cluster
	tg       target.Target
	p        string
	password string
	hasPW    bool
}

func (f *fixture) input(r spec.Role) plan.Input {
	f.t.Helper()
	n, err := r.Normalize()
	if err != nil {
		f.t.Fatal(err)
	}
	name, err := spec.RoleName("stile", n.Resource, n.Label)
	if err != nil {
		f.t.Fatal(err)
	}
	in, err := plan.NewInput(n, name)
	if err != nil {
		f.t.Fatal(err)
	}
	in.Host, in.Port, in.AdminUser, in.HasPassword = f.tg.Host, f.tg.Port, f.tg.User, f.hasPW
	return in
}

func (f *fixture) plan(in plan.Input) plan.Result {
	f.t.Helper()
	res, err := apply.Plan(context.Background(), f.tg, []plan.Input{in})
	if err != nil {
		f.t.Fatal(err)
	}
	return res[0]
}

func (f *fixture) apply(in plan.Input, res plan.Result) apply.Report {
	f.t.Helper()
	job := apply.Job{Target: f.tg, Input: in, Checksum: res.Document.Checksum, State: res.Document.CurrentState}
	pw := ""
	if res.NeedsPassword {
		pw = secret.NewPassword()
		job.Verifier = secret.ScramVerifier(pw)
	}
	rep := apply.Run(context.Background(), job)
	if rep.Password == apply.PasswordSet {
		f.password, f.hasPW = pw, true
	}
	return rep
}

// converge applies the plan of in and checks that a re-plan is empty.
func (f *fixture) converge(in plan.Input) plan.Result {
	f.t.Helper()
	res := f.plan(in)
	if res.Status != plan.ItemOutOfSync {
		f.t.Fatalf("plan status %s (%s), want out-of-sync\n%s", res.Status, res.Message, res.Document.SQLPlan)
	}
	rep := f.apply(in, res)
	if rep.Outcome != apply.Applied {
		f.t.Fatalf("apply: %s: %s\n%s", rep.Outcome, rep.Message, rep.Output)
	}
	in.HasPassword = f.hasPW
	in.Role.RotatePassword = false
	again := f.plan(in)
	if again.Status != plan.ItemInSync || strings.TrimSpace(again.Document.SQLPlan) != "-- no changes" {
		f.t.Fatalf("re-plan after apply is not empty (%s: %s):\n%s\nfirst plan:\n%s\napply output:\n%s", again.Status, again.Message, again.Document.SQLPlan, res.Document.SQLPlan, rep.Output)
	}
	return res
}

func mustContain(t *testing.T, sql string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(sql, w) {
			t.Errorf("plan lacks %q:\n%s", w, sql)
		}
	}
}

func mustNotContain(t *testing.T, sql string, bad ...string) {
	t.Helper()
	for _, w := range bad {
		if strings.Contains(sql, w) {
			t.Errorf("plan has %q:\n%s", w, sql)
		}
	}
}

func setup(t *testing.T, c pgtest.Cluster) *fixture {
	f := &fixture{t: t, c: c, tg: c.Target(), p: c.Prefix(t)}
	p := f.p
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app", "CREATE DATABASE "+p+"_legacy", "CREATE ROLE "+p+"_owner")
	c.Exec(t, p+"_app",
		"CREATE TABLE public.t1 (id serial primary key)",
		"CREATE TABLE public.t2 (id int)",
		"CREATE VIEW public.v AS SELECT 1 AS one",
		"CREATE TABLE public.parted (id int) PARTITION BY RANGE (id)",
		"CREATE TABLE public.parted_1 PARTITION OF public.parted FOR VALUES FROM (0) TO (10)",
		"CREATE SCHEMA sales AUTHORIZATION "+p+"_owner",
		"SET ROLE "+p+"_owner",
		"CREATE TABLE sales.orders (id bigserial primary key)",
		"CREATE PROCEDURE sales.pr() LANGUAGE sql AS 'SELECT 1'",
		"RESET ROLE",
	)
	c.Exec(t, p+"_legacy", "CREATE TABLE public.old (id int)")
	return f
}

func TestConvergeManaged(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		f := setup(t, c)
		p := f.p
		in := f.input(spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_app", p + "_legacy.public"}, Privileges: []string{"select"}})
		first := f.converge(in)
		sql := first.Document.SQLPlan
		mustContain(t, sql,
			`CREATE ROLE "`+in.RoleName+`" WITH LOGIN INHERIT PASSWORD 'ROLE_PASSWORD_PLACEHOLDER'`,
			`GRANT SELECT ON ALL TABLES IN SCHEMA "public"`,
			`GRANT SELECT ON ALL SEQUENCES IN SCHEMA "sales"`,
			`ALTER DEFAULT PRIVILEGES FOR ROLE "`+p+`_owner" IN SCHEMA "sales" GRANT SELECT ON TABLES`,
			`\connect -reuse-previous=on "dbname='`+p+`_app'"`,
		)
		if st := first.Document.CurrentState.ScopeStates[p+"_app.public"]; st.Status != plan.StatusUnprovisioned || st.TableCount != 5 {
			t.Errorf("scope state = %+v", st)
		}
		if pub := first.Document.CurrentState.PublicAccess[p+"_app"]; !slices.Contains(pub, "CONNECT") {
			t.Errorf("public access = %v, want PUBLIC's CONNECT on %s_app reported", first.Document.CurrentState.PublicAccess, p)
		}
		in.HasPassword = true

		// The role logs in with the generated password.
		if ok, err := inspect.CheckLogin(context.Background(), f.tg, in.RoleName, f.password); err != nil || !ok {
			t.Fatalf("login with the generated password: %v %v", ok, err)
		}

		// Drift by hand shows up exactly, and is fixed per object.
		c.Exec(t, p+"_app",
			`GRANT INSERT ON public.t1 TO "`+in.RoleName+`"`,
			`REVOKE SELECT ON public.t2 FROM "`+in.RoleName+`"`,
			"CREATE TABLE public.t3 (id int)",
			"CREATE SCHEMA extra",
			"CREATE TABLE extra.e (id int)",
		)
		drift := f.converge(in)
		sql = drift.Document.SQLPlan
		mustContain(t, sql,
			`REVOKE INSERT ON TABLE "public"."t1" FROM`,
			`GRANT SELECT ON TABLE "public"."t2" TO`,
			`GRANT USAGE ON SCHEMA "extra"`,
			`GRANT SELECT ON ALL TABLES IN SCHEMA "extra"`,
		)
		// t3 got SELECT from the default privileges of its creator.
		mustNotContain(t, sql, `ON ALL TABLES IN SCHEMA "public"`, `"public"."t3"`, "CREATE ROLE", "PASSWORD")
		st := drift.Document.CurrentState.ScopeStates[p+"_app.public"]
		if st.Status != plan.StatusDrifted || len(st.Exceptions.Missing) != 1 || len(st.Exceptions.Extra) != 1 {
			t.Errorf("drifted scope state = %+v", st)
		}

		// Narrowing the scopes revokes everything outside them.
		narrow := f.input(spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_app.public"}, Privileges: []string{"SELECT"}})
		res := f.converge(narrow)
		mustContain(t, res.Document.SQLPlan,
			`REVOKE CONNECT ON DATABASE "`+p+`_legacy"`,
			`REVOKE USAGE ON SCHEMA "sales"`,
			`ALTER DEFAULT PRIVILEGES FOR ROLE "`+p+`_owner" IN SCHEMA "sales" REVOKE SELECT ON TABLES`,
		)

		// Plan, drift, apply: refused, nothing executed.
		c.Exec(t, p+"_app", `GRANT INSERT ON public.t2 TO "`+in.RoleName+`"`)
		stale := f.plan(narrow)
		c.Exec(t, p+"_app", `GRANT UPDATE ON public.t1 TO "`+in.RoleName+`"`)
		rep := f.apply(narrow, stale)
		if rep.Outcome != apply.Drifted || !strings.Contains(rep.Output, "public.t1:") || !strings.Contains(rep.Output, "- UPDATE") {
			t.Fatalf("apply after drift: %s %s\n%s", rep.Outcome, rep.Message, rep.Output)
		}
		fresh := f.plan(narrow)
		mustContain(t, fresh.Document.SQLPlan, `REVOKE INSERT ON TABLE "public"."t2"`, `REVOKE UPDATE ON TABLE "public"."t1"`)
	})
}

// TestExternalOwnsEverythingItHolds: an external role's direct grants in any
// database (found through pg_shdepend, outside any scope) are revoked, and
// what stile does not diff (an owned type, a role setting) is reported as
// unmanaged drift rather than ignored.
func TestExternalOwnsEverythingItHolds(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		f := setup(t, c)
		p := f.p
		c.Exec(t, "postgres", "CREATE ROLE "+p+"_src")
		in := f.input(spec.Role{Resource: p, Label: "ext", Type: "external", SourceRole: p + "_src"})
		f.converge(in)
		in.HasPassword = true
		r := `"` + in.RoleName + `"`
		c.Exec(t, p+"_legacy", "GRANT SELECT ON public.old TO "+r, "GRANT USAGE ON SCHEMA public TO "+r, "CREATE TYPE public.mood AS ENUM ('ok')", "ALTER TYPE public.mood OWNER TO "+r)
		c.Exec(t, "postgres", "ALTER ROLE "+r+" SET work_mem = '8MB'")
		res := f.plan(in)
		mustContain(t, res.Document.SQLPlan,
			`\connect -reuse-previous=on "dbname='`+p+`_legacy'"`,
			`REVOKE SELECT ON TABLE "public"."old" FROM `+r,
			`REVOKE USAGE ON SCHEMA "public" FROM `+r,
			"-- Unmanaged",
		)
		un := strings.Join(res.Document.CurrentState.Unmanaged, "\n")
		if !strings.Contains(un, "type mood (owner)") || !strings.Contains(un, "work_mem=8MB") {
			t.Errorf("unmanaged = %q", un)
		}
		rep := f.apply(in, res)
		if rep.Outcome != apply.Applied || !strings.Contains(rep.Message, "2 unmanaged") {
			t.Fatalf("apply: %s %s\n%s", rep.Outcome, rep.Message, rep.Output)
		}
		again := f.plan(in)
		if strings.Contains(again.Document.SQLPlan, "REVOKE") || len(again.Document.CurrentState.Unmanaged) != 2 {
			t.Errorf("after apply:\n%s", again.Document.SQLPlan)
		}
	})
}

// TestRetryOnConcurrentDDL: an application migration holds an open ALTER
// TABLE when the apply's GRANT runs; the GRANT waits, then fails with "tuple
// concurrently updated" once the migration commits. The block is retried
// with a fresh read and the apply succeeds.
func TestRetryOnConcurrentDDL(t *testing.T) {
	c := pgtest.First(t)
	f := setup(t, c)
	p := f.p
	in := f.input(spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_legacy.public"}, Privileges: []string{"SELECT"}})
	res := f.plan(in)

	mig := c.Conn(t, p+"_legacy")
	ctx := context.Background()
	tx, err := mig.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "ALTER TABLE public.old ADD COLUMN note text"); err != nil {
		t.Fatal(err)
	}
	watch := c.Conn(t, p+"_legacy")
	go func() {
		// Commit the migration once the GRANT is waiting on its row lock
		// (a GRANT of this test's database: other packages' tests run on
		// the same cluster at the same time).
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			var waiting bool
			watch.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'GRANT%')`).Scan(&waiting)
			if waiting {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		tx.Commit(ctx)
	}()
	rep := f.apply(in, res)
	if rep.Outcome != apply.Applied {
		t.Fatalf("apply: %s %s\n%s", rep.Outcome, rep.Message, rep.Output)
	}
	if !strings.Contains(rep.Output, "-- retrying block") || !strings.Contains(rep.Output, "tuple concurrently updated") {
		t.Fatalf("the GRANT should have collided with the migration and been retried:\n%s", rep.Output)
	}
	in.HasPassword = true
	if again := f.plan(in); again.Status != plan.ItemInSync {
		t.Fatalf("re-plan: %s\n%s", again.Status, again.Document.SQLPlan)
	}
}

// TestApplySkipsWhatIsAlreadyDone: the drift a plan was made for is fixed by
// hand before the apply; the re-plan under the lock is in sync, so the apply
// runs nothing and says skipped.
func TestApplySkipsWhatIsAlreadyDone(t *testing.T) {
	c := pgtest.First(t)
	f := setup(t, c)
	in := f.input(spec.Role{Resource: f.p, Label: "ro", Scopes: []string{f.p + "_legacy.public"}, Privileges: []string{"SELECT"}})
	f.converge(in)
	in.HasPassword = true
	c.Exec(t, f.p+"_legacy", `REVOKE SELECT ON public.old FROM "`+in.RoleName+`"`)
	res := f.plan(in)
	c.Exec(t, f.p+"_legacy", `GRANT SELECT ON public.old TO "`+in.RoleName+`"`)
	if rep := f.apply(in, res); rep.Outcome != apply.Skipped {
		t.Fatalf("apply: %s %s\n%s", rep.Outcome, rep.Message, rep.Output)
	}
}

// TestUnreadableDatabaseFailsThePlan: the role holds a grant in a database
// that no longer takes connections; the plan fails naming it rather than
// skipping what it cannot see.
func TestUnreadableDatabaseFailsThePlan(t *testing.T) {
	c := pgtest.First(t)
	f := setup(t, c)
	in := f.input(spec.Role{Resource: f.p, Label: "ro", Scopes: []string{f.p + "_app.public"}, Privileges: []string{"SELECT"}})
	f.converge(in)
	in.HasPassword = true
	c.Exec(t, f.p+"_legacy", `GRANT SELECT ON public.old TO "`+in.RoleName+`"`)
	c.Exec(t, "postgres", "ALTER DATABASE "+f.p+"_legacy ALLOW_CONNECTIONS false")
	t.Cleanup(func() { c.Exec(t, "postgres", "ALTER DATABASE "+f.p+"_legacy ALLOW_CONNECTIONS true") })
	res := f.plan(in)
	if res.Status != plan.ItemFailed || !strings.Contains(res.Message, f.p+"_legacy") {
		t.Fatalf("plan: %s %q, want failed naming %s_legacy", res.Status, res.Message, f.p)
	}
}

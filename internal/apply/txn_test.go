package apply_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/spec"
)

// batchJobs plans inputs as one batch and returns their jobs, in the
// batch's apply order, with the password each sets.
func (f *fixture) batchJobs(inputs []plan.Input) ([]apply.Job, []string) {
	f.t.Helper()
	results, err := apply.Plan(context.Background(), f.tg, inputs)
	if err != nil {
		f.t.Fatal(err)
	}
	var jobs []apply.Job
	var passwords []string
	for i, res := range results {
		if res.Status != plan.ItemOutOfSync {
			f.t.Fatalf("plan of %s: %s %s", inputs[i].RoleName, res.Status, res.Message)
		}
		job := apply.Job{Target: f.tg, Input: inputs[i], Checksum: res.Document.Checksum, State: res.Document.CurrentState}
		pw := ""
		if res.NeedsPassword {
			pw = secret.NewPassword()
			job.Verifier = secret.ScramVerifier(pw)
		}
		jobs = append(jobs, job)
		passwords = append(passwords, pw)
	}
	return jobs, passwords
}

// TestBatchTransactionShape is issue 23's shape: a batch's role-level
// statements run in one transaction and each database's in one, each job
// in a savepoint. In database app an event trigger refuses the GRANTs of
// b, and another silently revokes what c is granted (PostgreSQL reports
// success; only the verification sees it). b is rolled back to its
// savepoint when its GRANT fails, c when the verification finds it short,
// and d, rolled back with c, runs again; a and d commit, verified. Every
// role was created in the role-level transaction, so every password is set
// and logs in.
func TestBatchTransactionShape(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		p := c.Prefix(t)
		f := &fixture{t: t, c: c, tg: c.Target(), p: p}
		app := p + "_app"
		c.Exec(t, "postgres", "CREATE DATABASE "+app)
		var inputs []plan.Input
		for _, label := range []string{"a", "b", "c", "d"} {
			inputs = append(inputs, f.input(spec.Role{Resource: "res" + p, Label: label, Scopes: []string{app}, Privileges: []string{"SELECT"}}))
		}
		b, cr := inputs[1].RoleName, inputs[2].RoleName
		c.Exec(t, app, "CREATE TABLE public.t (id int)",
			`CREATE FUNCTION public.refuse() RETURNS event_trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF current_query() LIKE '%`+b+`%' THEN RAISE EXCEPTION 'grants to b are refused here'; END IF;
			END $$`,
			`CREATE FUNCTION public.undo() RETURNS event_trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF current_query() LIKE '%`+cr+`%' THEN EXECUTE 'REVOKE SELECT ON public.t FROM "`+cr+`"'; END IF;
			END $$`,
			"CREATE EVENT TRIGGER "+p+"_refuse ON ddl_command_start WHEN TAG IN ('GRANT') EXECUTE FUNCTION public.refuse()",
			"CREATE EVENT TRIGGER "+p+"_undo ON ddl_command_end WHEN TAG IN ('GRANT') EXECUTE FUNCTION public.undo()")
		jobs, passwords := f.batchJobs(inputs)
		reps := apply.RunBatch(context.Background(), jobs, nil)

		for i, want := range []apply.Outcome{apply.Applied, apply.Failed, apply.Failed, apply.Applied} {
			rep := reps[i]
			if rep.Outcome != want {
				t.Fatalf("%s: %s (%s), want %s\n%s", inputs[i].RoleName, rep.Outcome, rep.Message, want, rep.Output)
			}
			if rep.Password != apply.PasswordSet {
				t.Errorf("%s: password %q, want set", inputs[i].RoleName, rep.Password)
			}
			if want == apply.Applied {
				mustContain(t, rep.Output, "-- role-level statements on database postgres", "BEGIN;  -- one transaction for 4 items of the batch",
					"dbname='"+app+"'", "SAVEPOINT item_", "-- verified: the role's ACL rows here equal the desired state", "COMMIT;")
				if got := strings.Join(rep.Committed, ","); got != "role,"+app {
					t.Errorf("%s committed %s", inputs[i].RoleName, got)
				}
			} else if got := strings.Join(rep.Committed, ","); got != "role" {
				t.Errorf("%s committed %s, want the role-level block only", inputs[i].RoleName, got)
			}
		}
		mustContain(t, reps[1].Message, "grants to b are refused here", "committed before the failure: role")
		mustContain(t, reps[1].Output, "ROLLBACK TO SAVEPOINT item_2;")
		mustContain(t, reps[2].Message, "verify: after the block the role still differs from the desired state", "GRANT SELECT")
		mustContain(t, reps[2].Output, "ROLLBACK TO SAVEPOINT item_3;")
		mustContain(t, reps[3].Output, "failed verification", "this block runs again")
		if n := strings.Count(reps[3].Output, "SAVEPOINT item_4;"); n != 3 {
			t.Errorf("d ran in %d savepoints, want 3 (role, app, app again):\n%s", n, reps[3].Output)
		}

		conn := c.Conn(t, app)
		for i, in := range inputs {
			var selects bool
			if err := conn.QueryRow(context.Background(), "SELECT has_table_privilege($1, 'public.t', 'SELECT')", in.RoleName).Scan(&selects); err != nil {
				t.Fatal(err)
			}
			if want := i == 0 || i == 3; selects != want {
				t.Errorf("%s may read public.t: %v, want %v", in.RoleName, selects, want)
			}
			login, err := c.As(in.RoleName, passwords[i]).Connect(context.Background(), app)
			if err != nil {
				t.Errorf("%s does not log in with its new password: %v", in.RoleName, err)
				continue
			}
			login.Close(context.Background())
		}
		c.Exec(t, app, "DROP EVENT TRIGGER "+p+"_refuse", "DROP EVENT TRIGGER "+p+"_undo")
		for _, i := range []int{0, 3} {
			f.mustBeInSync(inputs[i])
		}
	})
}

// TestBatchTransactionsStayShort: a phase of more items than a backend
// caches subtransactions for goes in several transactions, none over 64
// savepoints; the whole batch converges.
func TestBatchTransactionsStayShort(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	f := &fixture{t: t, c: c, tg: c.Target(), p: p}
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	var inputs []plan.Input
	for i := range 70 {
		inputs = append(inputs, f.input(spec.Role{Resource: "res" + p, Label: fmt.Sprintf("r%d", i), Scopes: []string{p + "_app"}, Privileges: []string{"SELECT"}}))
	}
	jobs, _ := f.batchJobs(inputs)
	reps := apply.RunBatch(context.Background(), jobs, nil)
	var shapes []string
	for i, rep := range reps {
		if rep.Outcome != apply.Applied {
			t.Fatalf("%s: %s %s\n%s", inputs[i].RoleName, rep.Outcome, rep.Message, rep.Output)
		}
		for _, line := range strings.Split(rep.Output, "\n") {
			if strings.HasPrefix(line, "BEGIN;") {
				shapes = append(shapes, line)
			}
		}
	}
	slices.Sort(shapes)
	shapes = slices.Compact(shapes)
	want := []string{"BEGIN;  -- one transaction for 6 items of the batch", "BEGIN;  -- one transaction for 64 items of the batch"}
	if !slices.Equal(shapes, want) {
		t.Errorf("transactions: %q, want %q", shapes, want)
	}
	for _, in := range inputs {
		f.mustBeInSync(in)
	}
}

// TestBatchTwoAdmins: resources on one cluster may use different admin
// accounts, and one batch then holds jobs of both. Each admin's blocks run
// in transactions of its own (on its own connections), role-level ones
// first, and both roles converge.
func TestBatchTwoAdmins(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		fb, _ := adminFixture(t, c)
		p := fb.p
		c.Exec(t, "postgres", "CREATE DATABASE "+p+"_other")
		fa := &fixture{t: t, c: c, tg: c.Target(), p: p}
		a := fa.input(spec.Role{Resource: "resa" + p, Label: "a", Scopes: []string{p + "_other"}, Privileges: []string{"SELECT"}})
		b := fb.input(spec.Role{Resource: "resb" + p, Label: "b", Scopes: []string{p + "_app.s"}, Privileges: []string{"SELECT"}})
		ja, _ := fa.batchJobs([]plan.Input{a})
		jb, _ := fb.batchJobs([]plan.Input{b})
		if ja[0].Target.ClusterKey() != jb[0].Target.ClusterKey() || ja[0].Target.String() == jb[0].Target.String() {
			t.Fatalf("want one cluster, two admins: %s and %s", ja[0].Target, jb[0].Target)
		}
		reps := apply.RunBatch(context.Background(), append(ja, jb...), nil)
		for i, rep := range reps {
			if rep.Outcome != apply.Applied || rep.Password != apply.PasswordSet {
				t.Fatalf("job %d: %s (%s), password %q\n%s", i, rep.Outcome, rep.Message, rep.Password, rep.Output)
			}
			// Each admin's transactions hold its own job alone.
			if strings.Contains(rep.Output, "one transaction for") {
				t.Errorf("job %d shared a transaction across admins:\n%s", i, rep.Output)
			}
		}
		fa.mustBeInSync(a)
		fb.mustBeInSync(b)
	})
}

// TestBatchWithRetirement: a retirement's role block comes last (DROP ROLE
// after each database's REASSIGN and DROP OWNED), so it runs alone, between
// the jobs before and after it. The retired role created in the scope, so
// the reviewed plans of x and z name it as a creator: x applies
// before the retirement; z, re-planned against a fresh read after it (a
// retirement changes what others read), no longer matches and is refused
// as drift. A new plan of z converges.
func TestBatchWithRetirement(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	f := &fixture{t: t, c: c, tg: c.Target(), p: p}
	app := p + "_app"
	c.Exec(t, "postgres", "CREATE DATABASE "+app)
	old := f.input(spec.Role{Resource: "res" + p, Label: "old", Scopes: []string{app}, Privileges: []string{"SELECT", "CREATE"}})
	f.converge(old)
	c.Exec(t, app, `SET ROLE "`+old.RoleName+`"`, "CREATE TABLE public.kept (id int)", "RESET ROLE")
	retire := old
	retire.Role.Retire = true
	retire.HasPassword = true
	x := f.input(spec.Role{Resource: "res" + p, Label: "x", Scopes: []string{app}, Privileges: []string{"SELECT"}})
	z := f.input(spec.Role{Resource: "res" + p, Label: "z", Scopes: []string{app}, Privileges: []string{"SELECT"}})
	jobs, _ := f.batchJobs([]plan.Input{x, retire, z})
	reps := apply.RunBatch(context.Background(), jobs, nil)
	for i, want := range []apply.Outcome{apply.Applied, apply.Applied, apply.Drifted} {
		rep := reps[i]
		if rep.Outcome != want {
			t.Fatalf("job %d: %s (%s), want %s\n%s", i, rep.Outcome, rep.Message, want, rep.Output)
		}
		if strings.Contains(rep.Output, "one transaction for") {
			t.Errorf("job %d shared a transaction with the retirement:\n%s", i, rep.Output)
		}
	}
	mustContain(t, reps[1].Output, "DROP OWNED BY", "DROP ROLE")
	mustContain(t, reps[2].Output, old.RoleName)
	var exists bool
	var owner string
	conn := c.Conn(t, app)
	conn.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1), (SELECT tableowner::text FROM pg_tables WHERE tablename = 'kept')", old.RoleName).Scan(&exists, &owner)
	if exists || owner != f.tg.User {
		t.Fatalf("after the retirement: role exists %v, its table's owner %q", exists, owner)
	}
	f.converge(z)
	f.mustBeInSync(x)
	f.mustBeInSync(z)
}

package apply

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/target"
)

// TestBlockFailsOnWarning: a non-owner admin holding CONNECT only through
// PUBLIC runs GRANT CONNECT; PostgreSQL answers WARNING 01007 "no privileges
// were granted" and reports success. The block must fail and roll back.
func TestBlockFailsOnWarning(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		p := c.Prefix(t)
		db, admin, role := p+"_db", p+"_admin", p+"_r"
		c.Exec(t, "postgres", "CREATE DATABASE "+db, "CREATE ROLE "+admin+" LOGIN CREATEROLE PASSWORD 'pw'", "CREATE ROLE "+role)
		tg := c.As(admin, "pw")
		r := newTestRunner(t, tg, spec.Role{Resource: p, Label: "x", Scopes: []string{db}, Privileges: []string{"SELECT"}})
		err := runBlock(t, r, plan.Block{Database: db, Steps: []plan.Step{{SQL: "GRANT CONNECT ON DATABASE " + db + " TO " + role}}})
		if err == nil || !strings.Contains(err.Error(), "WARNING 01007") {
			t.Fatalf("runBlock = %v, want a WARNING 01007 failure\n%s", err, r.out.String())
		}
		if !strings.Contains(r.out.String(), "ROLLBACK TO SAVEPOINT") {
			t.Errorf("the block was not rolled back:\n%s", r.out.String())
		}
	})
}

// TestBlockVerifiesBeforeCommit: a block whose statements leave the role
// short of its desired state is rolled back, however they reported.
func TestBlockVerifiesBeforeCommit(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	db := p + "_db"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	in := spec.Role{Resource: p, Label: "x", Scopes: []string{db}, Privileges: []string{"SELECT"}}
	r := newTestRunner(t, c.Target(), in)
	c.Exec(t, "postgres", `CREATE ROLE "`+r.job.Input.RoleName+`"`)
	// Only half of the block: CONNECT without USAGE on public.
	err := runBlock(t, r, plan.Block{Database: db, Steps: []plan.Step{{SQL: `GRANT CONNECT ON DATABASE "` + db + `" TO "` + r.job.Input.RoleName + `"`}}})
	if err == nil || !strings.Contains(err.Error(), "still differs") || !strings.Contains(err.Error(), "GRANT USAGE ON SCHEMA") {
		t.Fatalf("runBlock = %v, want a verification failure naming what is left", err)
	}
	var n int
	conn := c.Conn(t, "postgres")
	conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1 AND a.grantee = $2::regrole", db, r.job.Input.RoleName).Scan(&n)
	if n != 0 {
		t.Fatal("the half-done block committed")
	}
}

// newTestRunner returns a runner for role as target's user, with a fresh
// snapshot, as RunBatch would have set it up.
func newTestRunner(t *testing.T, target target.Target, role spec.Role) *runner {
	t.Helper()
	n, err := role.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	name, _ := spec.RoleName("stile", n.Resource, n.Label)
	in, err := plan.NewInput(n, name)
	if err != nil {
		t.Fatal(err)
	}
	in.Host, in.Port, in.AdminUser, in.HasPassword = target.Host, target.Port, target.User, true
	snap, err := Inspect(context.Background(), target, []plan.Input{in})
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(Job{Target: target, Input: in})
	r.snap = snap
	return r
}

// runBlock runs b for r alone, in a transaction of its own, as a segment
// of one item would, and returns the item's failure.
func runBlock(t *testing.T, r *runner, b plan.Block) error {
	t.Helper()
	ctx := context.Background()
	lock, err := r.job.Target.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close(ctx)
	conns := &connPool{}
	defer conns.close(ctx)
	it := &item{r: r, target: r.job.Target.String(), blocks: []plan.Block{b}}
	x := &txn{lock: lock, conns: conns, ph: phase{t: r.job.Target, target: it.target, db: b.Database}, items: []*item{it}}
	x.run(ctx)
	if it.failed {
		return errors.New(r.rep.Message)
	}
	return nil
}

package service

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/target"
)

// batchAgent is the built-in agent, recording the apply jobs it is sent.
type batchAgent struct {
	runner.Local
	mu      sync.Mutex
	batches map[string][]int // cluster -> jobs per ApplyBatch call
}

func (a *batchAgent) ApplyBatch(ctx context.Context, jobs []apply.Job, report func(int, apply.Report)) []apply.Report {
	a.mu.Lock()
	k := jobs[0].Target.ClusterKey()
	a.batches[k] = append(a.batches[k], len(jobs))
	a.mu.Unlock()
	return a.Local.ApplyBatch(ctx, jobs, report)
}

// addResources imports and manages resources named name=cluster.
func addResources(t *testing.T, svc *Services, clusters map[string]target.Target) {
	t.Helper()
	ctx := context.Background()
	csv := "name,type,host,port,sslmode\n"
	for name, tg := range clusters {
		csv += fmt.Sprintf("%s,postgres,%s,%d,disable\n", name, tg.Host, tg.Port)
	}
	if _, err := svc.Inventory.ImportResources(ctx, Admin, []byte(csv), false); err != nil {
		t.Fatal(err)
	}
	for name, tg := range clusters {
		if err := svc.Inventory.SetAdmin(ctx, Admin, spec.Admin{Resource: name, User: tg.User, Password: tg.Password}, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// TestApplyBatch: a batch of five roles, over two resources on one cluster
// and one resource on another, goes to the agent as one job per cluster.
// One item drifted since its plan (refused, nothing run), one fails
// mid-way (a database refuses GRANTs: its role block committed, its
// database block did not) and the other three apply; every item has its
// own session and exactly one outcome, and every password is settled: the
// failed item's committed role logs in with its stored password, and no
// role keeps a pending one.
func TestApplyBatch(t *testing.T) {
	c1, c2 := pgtest.Two(t)
	p1, p2 := c1.Prefix(t), c2.Prefix(t)
	t1, t2 := c1.Target(), c2.Target()
	c1.Exec(t, "postgres", "CREATE DATABASE "+p1+"_a", "CREATE DATABASE "+p1+"_b")
	c1.Exec(t, p1+"_b", "CREATE TABLE public.t (id int)",
		`CREATE FUNCTION public.frozen() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'grants are frozen in this database'; END $$`)
	c2.Exec(t, "postgres", "CREATE DATABASE "+p2+"_a")
	ag := &batchAgent{batches: map[string][]int{}}
	svc, err := newService(t, t.TempDir(), "stile", ag)
	if err != nil {
		t.Fatal(err)
	}
	x, y, z := p1+"_x", p1+"_y", p2+"_z"
	addResources(t, svc, map[string]target.Target{x: t1, y: t1, z: t2})
	ctx := context.Background()
	role := func(res, label, scope string) spec.Role {
		return spec.Role{Resource: res, Label: label, Scopes: []string{scope}, Privileges: []string{"SELECT"}}
	}
	roles := []spec.Role{role(x, "ok", p1+"_a"), role(x, "drifts", p1+"_a"), role(y, "fails", p1+"_b"), role(y, "ok", p1+"_a"), role(z, "ok", p2+"_a")}
	planned, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, roles)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]ApplyItem, len(planned))
	for i, o := range planned {
		if o.Status != plan.ItemOutOfSync {
			t.Fatalf("plan of %s: %s %s", o.RoleName, o.Status, o.Message)
		}
		items[i] = ApplyItem{Resource: o.Resource, PlanSID: o.SID}
	}
	// After the plans: one role made by hand, and GRANTs refused in _b.
	c1.Exec(t, "postgres", `CREATE ROLE "`+planned[1].RoleName+`"`)
	c1.Exec(t, p1+"_b", "CREATE EVENT TRIGGER "+p1+"_frozen ON ddl_command_start WHEN TAG IN ('GRANT', 'REVOKE', 'ALTER DEFAULT PRIVILEGES') EXECUTE FUNCTION public.frozen()")

	got := map[int]ItemOutcome{}
	svc.Provisioning.ApplyBatch(ctx, Principal{User: "test", Admin: true}, items, func(o ItemOutcome) {
		if _, twice := got[o.Index]; twice {
			t.Errorf("item %d reported twice", o.Index)
		}
		got[o.Index] = o
	})
	if len(got) != len(items) {
		t.Fatalf("%d outcomes for %d items", len(got), len(items))
	}
	for _, i := range []int{0, 3, 4} {
		if o := got[i]; o.Err != nil || o.Status != string(apply.Applied) {
			t.Errorf("item %d (%s): %s %v\n%s", i, o.RoleName, o.Status, o.Err, o.Output)
		}
	}
	if o := got[1]; !errs.Is(o.Err, errs.Drift) || o.Status != string(apply.Drifted) || strings.Contains(o.Output, "CREATE ROLE") {
		t.Errorf("the drifted item: %s %v\n%s", o.Status, o.Err, o.Output)
	}
	if o := got[2]; !errs.Is(o.Err, errs.Failed) || strings.Join(o.Committed, ",") != "role" || !strings.Contains(o.Message, "grants are frozen") {
		t.Errorf("the failing item: %s %v committed %v\n%s", o.Status, o.Err, o.Committed, o.Output)
	}
	// One job per cluster: the four items of x and y in one, z's in another.
	if b := ag.batches[t1.ClusterKey()]; len(b) != 1 || b[0] != 4 {
		t.Errorf("jobs on %s: %v, want one of 4", t1.ClusterKey(), b)
	}
	if b := ag.batches[t2.ClusterKey()]; len(b) != 1 || b[0] != 1 {
		t.Errorf("jobs on %s: %v, want one of 1", t2.ClusterKey(), b)
	}
	if !strings.Contains(got[0].Output, "for a batch of 4") {
		t.Errorf("the batch's item output does not say it held the lock for the batch:\n%s", got[0].Output)
	}

	for i, r := range roles {
		stored, err := svc.Reporting.store.Role(ctx, r.Resource, r.Label)
		if err != nil {
			t.Fatal(err)
		}
		if stored.PasswordPending != "" {
			t.Errorf("item %d (%s) kept a pending password", i, stored.RoleName)
		}
		if i == 1 {
			if stored.PasswordCurrent != "" || stored.LastApplySID == "" {
				t.Errorf("the drifted item: password %t, last apply %q", stored.PasswordCurrent != "", stored.LastApplySID)
			}
			continue
		}
		pw, err := svc.Reporting.box.Open(stored.PasswordCurrent, passwordAD(r.Resource, r.Label))
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		tg := t1
		if r.Resource == z {
			tg = t2
		}
		if ok, err := inspect.CheckLogin(ctx, tg, stored.RoleName, pw); !ok {
			t.Errorf("item %d (%s) does not log in with its stored password: %v", i, stored.RoleName, err)
		}
	}
	running, _ := svc.Reporting.Sessions(ctx, Admin, store.SessionFilter{Status: "running"})
	if len(running) != 0 {
		t.Errorf("%d sessions still running", len(running))
	}
}

// TestConcurrentBatchesSerialize: two batch applies on one cluster wait for
// its apply lock, one behind the other, and both apply once it is free.
func TestConcurrentBatchesSerialize(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	// The apply lock is taken in a database of this test's own: advisory
	// locks are per database, so other tests on the cluster (other
	// packages run at the same time) neither block these applies nor
	// count among the waiters below.
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_a", "CREATE DATABASE "+p+"_lock")
	svc := serviceWithInventory(t, p, tg)
	svc.Reporting.lockDB = p + "_lock"
	ctx := context.Background()
	if err := svc.Inventory.SetAdmin(ctx, Admin, spec.Admin{Resource: p, User: tg.User, Password: tg.Password}, ""); err != nil {
		t.Fatal(err)
	}
	var roles []spec.Role
	for i := range 4 {
		roles = append(roles, spec.Role{Resource: p, Label: fmt.Sprintf("r%d", i), Scopes: []string{p + "_a"}, Privileges: []string{"SELECT"}})
	}
	planned, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, roles)
	if err != nil {
		t.Fatal(err)
	}
	lock := c.Conn(t, p+"_lock")
	class, key := apply.LockKeys(tg)
	if _, err := lock.Exec(ctx, "SELECT pg_advisory_lock($1, $2)", class, key); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var outcomes []ItemOutcome
	var wg sync.WaitGroup
	for b := range 2 {
		items := []ApplyItem{{Resource: p, PlanSID: planned[2*b].SID}, {Resource: p, PlanSID: planned[2*b+1].SID}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc.Provisioning.ApplyBatch(ctx, Principal{User: "test", Admin: true}, items, func(o ItemOutcome) {
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
			})
		}()
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var waiting int
		if err := lock.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1::oid
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, class).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d batches wait for the cluster's lock, want 2", waiting)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	early := len(outcomes)
	mu.Unlock()
	if early != 0 {
		t.Fatalf("%d items landed while the lock was held", early)
	}
	if _, err := lock.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", class, key); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(outcomes) != 4 {
		t.Fatalf("%d outcomes, want 4", len(outcomes))
	}
	for _, o := range outcomes {
		if o.Err != nil || o.Status != string(apply.Applied) {
			t.Errorf("%s: %s %v\n%s", o.RoleName, o.Status, o.Err, o.Output)
		}
	}
}

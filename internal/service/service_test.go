package service

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/sqlite"
	"github.com/stile-dev/stile/internal/target"
)

// countingAgent is the built-in agent, counting the catalog reads it makes.
type countingAgent struct {
	runner.Local
	mu    sync.Mutex
	plans map[string]int // host:port/user -> Plan calls
	items int
}

func (a *countingAgent) Plan(ctx context.Context, t target.Target, in []plan.Input) ([]plan.Result, error) {
	a.mu.Lock()
	a.plans[t.String()]++
	a.items += len(in)
	a.mu.Unlock()
	return a.Local.Plan(ctx, t, in)
}

func newService(t testing.TB, dir, prefix string, ag agent.Agent) (*Services, error) {
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "stile.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	return New(context.Background(), Config{Store: st, Box: box, Agents: []agent.Agent{ag}, RolePrefix: prefix})
}

func TestRolePrefixIsFixed(t *testing.T) {
	dir := t.TempDir()
	if _, err := newService(t, dir, "acme", runner.Local{}); err != nil {
		t.Fatal(err)
	}
	_, err := newService(t, dir, "other", runner.Local{})
	if !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), `"acme"`) {
		t.Fatalf("changing the prefix: %v, want a conflict naming acme", err)
	}
	if _, err := newService(t, t.TempDir(), "Bad-Prefix", runner.Local{}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad prefix: %v", err)
	}
}

// TestBatchSharesCatalogReads: items of one resource are planned against one
// catalog read; items of two resources, two.
func TestBatchSharesCatalogReads(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_a", "CREATE DATABASE "+p+"_b")
	ag := &countingAgent{plans: map[string]int{}}
	svc, err := newService(t, t.TempDir(), "stile", ag)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	csv := fmt.Sprintf("name,type,host,port,sslmode\n%[1]s_r1,postgres,%[2]s,%[3]d,disable\n%[1]s_r2,postgres,%[2]s,%[3]d,disable\n", p, tg.Host, tg.Port)
	if _, err := svc.Inventory.ImportResources(ctx, Admin, []byte(csv), false); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{p + "_r1", p + "_r2"} {
		if err := svc.Inventory.SetAdmin(ctx, Admin, spec.Admin{Resource: r, User: tg.User, Password: tg.Password}, ""); err != nil {
			t.Fatal(err)
		}
	}
	var items []spec.Role
	for i := range 6 {
		res := p + "_r1"
		if i >= 4 {
			res = p + "_r2"
		}
		items = append(items, spec.Role{Resource: res, Label: fmt.Sprintf("l%d", i), Scopes: []string{p + "_a", p + "_b.public"}, Privileges: []string{"SELECT"}})
	}
	out, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, items)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Status != plan.ItemOutOfSync {
			t.Errorf("%s: %s %s", o.RoleName, o.Status, o.Message)
		}
	}
	calls := 0
	for _, n := range ag.plans {
		calls += n
	}
	if calls != 2 || ag.items != 6 {
		t.Fatalf("6 items on 2 resources made %d catalog reads for %d items, want 2 for 6", calls, ag.items)
	}
}

// TestSetAdminNeedsPrivilege: a login that can neither create roles nor is
// a superuser is refused, and nothing is stored.
func TestSetAdminNeedsPrivilege(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE ROLE "+p+"_weak LOGIN PASSWORD 'pw'")
	svc := serviceWithInventory(t, p, tg)
	ctx := context.Background()
	err := svc.Inventory.SetAdmin(ctx, Admin, spec.Admin{Resource: p, User: p + "_weak", Password: "pw"}, "")
	if err == nil || !strings.Contains(err.Error(), "not privileged enough") {
		t.Fatalf("SetAdmin with a weak login: %v", err)
	}
	list, _ := svc.Inventory.ListResources(ctx, Admin)
	if len(list) != 1 || list[0].AdminSet {
		t.Fatalf("a refused admin was stored: %+v", list)
	}
	if err := svc.Inventory.SetAdmin(ctx, Admin, spec.Admin{Resource: p, User: tg.User, Password: tg.Password}, "elsewhere"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("unknown agent: %v", err)
	}
}

// TestSweepFailsSessionsPastTheTimeout: a session still running after the
// job timeout (its replica is gone) is marked failed; a young one is not.
func TestSweepFailsSessionsPastTheTimeout(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stile.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	svc, err := New(context.Background(), Config{Store: st, Box: box, Agents: []agent.Agent{runner.Local{}}, RolePrefix: "stile", ApplyTimeout: time.Second, PlanTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st.UpsertResources(ctx, []spec.Resource{{Name: "a", Type: "postgres", Host: "h", Port: 1, Database: "postgres", SSLMode: "disable"}}, "local")
	st.CreateSessions(ctx, store.Session{SID: "old", Kind: "apply", Resource: "a", Actor: "x", CreatedAt: time.Now().UTC().Add(-2 * time.Minute), Status: "running", Replica: "gone"})
	st.CreateSessions(ctx, store.Session{SID: "young", Kind: "apply", Resource: "a", Actor: "x", CreatedAt: time.Now().UTC(), Status: "running", Replica: "alive"})
	// The sweep runs every 20ms; on a loaded machine its first pass may
	// take a while, so wait for it (up to 10s) rather than for a fixed time.
	sctx, cancel := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() { svc.Provisioning.Sweep(sctx, 20*time.Millisecond); close(swept) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s, _ := st.Session(ctx, "old"); s.Status == "failed" {
			break
		}
	}
	cancel()
	<-swept
	if s, _ := st.Session(ctx, "old"); s.Status != "failed" {
		t.Errorf("old session: %s", s.Status)
	}
	if s, _ := st.Session(ctx, "young"); s.Status != "running" {
		t.Errorf("young session: %s", s.Status)
	}
}

// TestConcurrentAppliesKeepThePassword is issue 9 bug 7: two plans of one
// new role applied at once. Whichever order they race in, the password
// stile holds afterwards is the one PostgreSQL has: it logs in.
func TestConcurrentAppliesKeepThePassword(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_a")
	svc := serviceWithResource(t, p, tg)
	ctx := context.Background()
	for round := range 8 {
		label := fmt.Sprintf("race%d", round)
		item := []spec.Role{{Resource: p, Label: label, Scopes: []string{p + "_a"}, Privileges: []string{"SELECT"}}}
		var sids []string
		var name string
		for range 2 {
			out, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, item)
			if err != nil || out[0].Status != plan.ItemOutOfSync {
				t.Fatalf("plan: %+v %v", out, err)
			}
			sids = append(sids, out[0].SID)
			name = out[0].RoleName
		}
		if round == 0 {
			// A failed plan of the role is refused as failed, not as a
			// missing role.
			bad := []spec.Role{{Resource: p, Label: label, Scopes: []string{p + "_missing"}, Privileges: []string{"SELECT"}}}
			out, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, bad)
			if err != nil || out[0].Status != plan.ItemFailed {
				t.Fatalf("plan of a missing database: %+v %v", out, err)
			}
			_, err = svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, out[0].SID)
			if !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "did not succeed") {
				t.Fatalf("apply of a failed plan: %v, want a conflict saying it did not succeed", err)
			}
		}
		if round%2 == 1 {
			sids[0], sids[1] = sids[1], sids[0]
		}
		var wg sync.WaitGroup
		outcomes := make([]string, 2)
		for i, sid := range sids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, err := svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, sid)
				outcomes[i] = o.Status
				if err != nil {
					outcomes[i] += " (" + string(errs.CodeOf(err)) + ")"
				}
			}()
		}
		wg.Wait()
		pw, err := svc.Provisioning.RevealPassword(ctx, Principal{User: "test", Admin: true}, name)
		if err != nil {
			t.Fatalf("round %d (%v): reveal: %v", round, outcomes, err)
		}
		if ok, err := inspect.CheckLogin(ctx, tg, name, pw); err != nil || !ok {
			t.Fatalf("round %d (%v): the stored password does not log in: %v %v", round, outcomes, ok, err)
		}
	}
}

// TestBatchAppliedAtOnce: a batch whose reader requires its new writer,
// applied at once as the web app's "Apply N roles" does: the reader's apply
// waits for the writer's, and both apply. A reader applied alone, with the
// writer's plan unapplied, is refused and stays unapplied.
func TestBatchAppliedAtOnce(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE ROLE "+p+"_owner", "CREATE DATABASE "+p+"_a")
	c.Exec(t, p+"_a", "CREATE SCHEMA s AUTHORIZATION "+p+"_owner")
	svc := serviceWithResource(t, p, tg)
	ctx := context.Background()
	batch := func(n int) []PlanOutcome {
		out, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{
			{Resource: p, Label: fmt.Sprintf("reader%d", n), Scopes: []string{p + "_a.s"}, Privileges: []string{"SELECT"}},
			{Resource: p, Label: fmt.Sprintf("writer%d", n), Scopes: []string{p + "_a.s"}, Privileges: []string{"SELECT", "CREATE"}},
		})
		if err != nil || len(out[0].Requires) != 1 || out[0].Requires[0] != out[1].RoleName {
			t.Fatalf("plan: %+v %v", out, err)
		}
		return out
	}

	out := batch(1)
	if _, err := svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, out[0].SID); !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "apply that role's plan first") {
		t.Fatalf("reader before its writer: %v", err)
	}
	for _, o := range []PlanOutcome{out[1], out[0]} {
		if a, err := svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, o.SID); err != nil || a.Status != "applied" {
			t.Fatalf("apply %s: %+v %v", o.RoleName, a, err)
		}
	}

	out = batch(2)
	var wg sync.WaitGroup
	errors := make([]error, 2)
	for i, o := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errors[i] = svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, o.SID)
		}()
	}
	wg.Wait()
	if errors[0] != nil || errors[1] != nil {
		t.Fatalf("applied at once: %v", errors)
	}
	again, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{
		{Resource: p, Label: "reader2", Scopes: []string{p + "_a.s"}, Privileges: []string{"SELECT"}},
		{Resource: p, Label: "writer2", Scopes: []string{p + "_a.s"}, Privileges: []string{"SELECT", "CREATE"}},
	})
	if err != nil || again[0].Status != plan.ItemInSync || again[1].Status != plan.ItemInSync {
		t.Fatalf("one round left work: %+v %v", again, err)
	}
}

// serviceWithInventory is a service on a fresh store whose inventory has
// resource name on tg's cluster, with no admin credentials yet.
func serviceWithInventory(t testing.TB, name string, tg target.Target) *Services {
	t.Helper()
	svc, err := newService(t, t.TempDir(), "stile", runner.Local{})
	if err != nil {
		t.Fatal(err)
	}
	csv := fmt.Sprintf("name,type,host,port,sslmode\n%[1]s,postgres,%[2]s,%[3]d,disable\n", name, tg.Host, tg.Port)
	if _, err := svc.Inventory.ImportResources(context.Background(), Admin, []byte(csv), false); err != nil {
		t.Fatal(err)
	}
	return svc
}

// serviceWithResource is serviceWithInventory with the resource managed by
// tg's (superuser) credentials.
func serviceWithResource(t testing.TB, name string, tg target.Target) *Services {
	t.Helper()
	svc := serviceWithInventory(t, name, tg)
	if err := svc.Inventory.SetAdmin(context.Background(), Admin, spec.Admin{Resource: name, User: tg.User, Password: tg.Password}, ""); err != nil {
		t.Fatal(err)
	}
	return svc
}

// applyRole plans and applies r as "test", and returns its role name.
func applyRole(t testing.TB, svc *Services, r spec.Role) string {
	t.Helper()
	ctx := context.Background()
	out, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{r})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, r.Resource, out[0].SID); err != nil {
		t.Fatal(err)
	}
	return out[0].RoleName
}

// serveListener serves svc's PostgreSQL listener (plain, loopback) until
// the test ends, and returns its address.
func serveListener(t testing.TB, svc *Services) net.Addr {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go (&proxy.Listener{Open: svc.Connections.OpenUpstream}).Serve(ctx, ln)
	return ln.Addr()
}

// TestExploratoryPlanChangesNothing: a role's declaration is what was last
// applied. A plan of another spec that is never applied leaves the role's
// spec and status as they were, and the drift check (Replan) still plans
// the applied declaration; only the pending plan's sid is recorded.
func TestExploratoryPlanChangesNothing(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_a")
	svc := serviceWithResource(t, p, tg)
	ctx := context.Background()
	declared := spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_a"}, Privileges: []string{"SELECT"}}
	out, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{declared})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, out[0].SID); err != nil {
		t.Fatal(err)
	}
	explore := declared
	explore.Privileges = []string{"SELECT", "INSERT"}
	pending, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{explore})
	if err != nil || pending[0].Status != plan.ItemOutOfSync {
		t.Fatalf("exploratory plan: %+v %v", pending, err)
	}
	roles, err := svc.Provisioning.Roles(ctx, Admin, p)
	if err != nil || len(roles) != 1 {
		t.Fatal(roles, err)
	}
	r := roles[0]
	if !r.Declared || r.Status != "applied" || !slices.Equal(r.Spec.Privileges, []string{"SELECT"}) || r.LastPlanSID != pending[0].SID {
		t.Fatalf("after an exploratory plan: declared %v, status %s, privileges %v, last plan %s (want the pending %s)", r.Declared, r.Status, r.Spec.Privileges, r.LastPlanSID, pending[0].SID)
	}
	drift, err := svc.Provisioning.Replan(ctx, Principal{User: "test", Admin: true}, p)
	if err != nil || len(drift) != 1 || drift[0].Status != plan.ItemInSync {
		t.Fatalf("the drift check re-planned the exploratory spec: %+v %v", drift, err)
	}
}

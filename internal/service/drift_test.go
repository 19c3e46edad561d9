package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/audit"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/postgres"
	"github.com/stile-dev/stile/internal/store/sqlite"
	"github.com/stile-dev/stile/internal/target"
)

// webhook records the audit events it receives.
type webhook struct {
	mu     sync.Mutex
	events []audit.Event
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ev audit.Event
	json.Unmarshal(body, &ev)
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
}

func (h *webhook) kind(k string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, e := range h.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// TestDriftEvery: the scheduled check finds a GRANT made by hand within an
// interval, records one drift session naming the repair and sends one
// webhook event however many intervals pass, and applies nothing.
func TestDriftEvery(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_a")
	c.Exec(t, p+"_a", "CREATE TABLE public.t (id int)")
	hook := &webhook{}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	exp, err := audit.New(audit.Config{Webhook: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stile.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	ctx := context.Background()
	svc, err := New(ctx, Config{Store: st, Box: box, Agents: []agent.Agent{runner.Local{}}, RolePrefix: "stile", Audit: exp})
	if err != nil {
		t.Fatal(err)
	}
	addResources(t, svc, map[string]target.Target{p: tg})
	out, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{{Resource: p, Label: "ro", Scopes: []string{p + "_a"}, Privileges: []string{"SELECT"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The plan's session keeps its document once (JSON); read, its output
	// is the document as YAML, as the CLI prints it.
	stored, _ := st.Session(ctx, out[0].SID)
	shown, err := svc.Reporting.Session(ctx, Admin, out[0].SID)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := yaml.Marshal(out[0].Document)
	if stored.Output != "" || stored.Document == "" || shown.Output != string(want) {
		t.Errorf("plan session: stored output %q, document %d bytes; read output:\n%s\nwant:\n%s", stored.Output, len(stored.Document), shown.Output, want)
	}
	if _, err := svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, out[0].SID); err != nil {
		t.Fatal(err)
	}
	role := out[0].RoleName

	const interval = 300 * time.Millisecond
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	go svc.Provisioning.DriftEvery(dctx, interval)
	drifts := func() []store.Session {
		list, err := svc.Reporting.Sessions(ctx, Admin, store.SessionFilter{Kind: store.KindDrift})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	time.Sleep(2 * interval)
	if n := len(drifts()); n != 0 {
		t.Fatalf("%d drift sessions while the role is in sync", n)
	}

	c.Exec(t, p+"_a", `GRANT DELETE ON public.t TO "`+role+`"`)
	deadline := time.Now().Add(10 * time.Second)
	for len(drifts()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the drift check did not find the GRANT")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(4 * interval)
	stop()
	list := drifts()
	if len(list) != 1 || list[0].Role != role || !strings.Contains(list[0].Message, "REVOKE DELETE") || list[0].Actor != DriftActor {
		t.Fatalf("drift sessions: %+v", list)
	}
	exp.Close()
	if n := hook.kind(store.KindDrift); n != 1 {
		t.Errorf("%d drift events at the webhook, want 1", n)
	}
	var still bool
	c.Conn(t, p+"_a").QueryRow(ctx, "SELECT has_table_privilege($1, 'public.t', 'DELETE')", role).Scan(&still)
	if !still {
		t.Error("the drift check applied something: the GRANT made by hand is gone")
	}
}

// TestDriftOnceAcrossReplicas: two replicas on one PostgreSQL store check a
// resource once per interval between them, not once each.
func TestDriftOnceAcrossReplicas(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_a", "CREATE DATABASE "+p+"_store")
	u, err := url.Parse(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + p + "_store"
	ctx := context.Background()
	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	var replicas []*Services
	for i := range 2 {
		st, err := postgres.Open(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc, err := New(ctx, Config{Store: st, Box: box, Agents: []agent.Agent{runner.Local{}}, RolePrefix: "stile", SharedStore: true, Replica: fmt.Sprintf("r%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, svc)
	}
	addResources(t, replicas[0], map[string]target.Target{p: tg})
	// Applied: the drift check plans declared roles only.
	out, err := replicas[0].Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{{Resource: p, Label: "ro", Scopes: []string{p + "_a"}, Privileges: []string{"SELECT"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replicas[0].Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, out[0].SID); err != nil {
		t.Fatal(err)
	}
	const interval = 400 * time.Millisecond
	const run = 6 * interval
	dctx, stop := context.WithTimeout(ctx, run)
	defer stop()
	var wg sync.WaitGroup
	for _, svc := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc.Provisioning.DriftEvery(dctx, interval)
		}()
	}
	wg.Wait()
	plans, err := replicas[0].Reporting.Sessions(ctx, Admin, store.SessionFilter{Kind: store.KindPlan, Resource: p})
	if err != nil {
		t.Fatal(err)
	}
	checks, by := 0, map[string]int{}
	for _, s := range plans {
		if s.Actor == DriftActor {
			checks++
			by[s.Replica]++
		}
	}
	// One replica alone checks about run/interval = 6 times; the lease
	// (held for 0.9 of an interval) allows at most one more at a handover.
	// Each replica on its own would make about 12.
	if checks == 0 || checks > 8 {
		t.Fatalf("%d drift checks in %s at one per %s between two replicas (by replica: %v)", checks, run, interval, by)
	}
}

// TestDriftSkipsUndeclared: a role whose only apply failed (its database
// refused the GRANTs after the role block committed) has no declaration:
// the drift check does not re-plan it and records no drift for it, while a
// role applied once is checked.
func TestDriftSkipsUndeclared(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_a")
	c.Exec(t, p+"_a", "CREATE TABLE public.t (id int)",
		`CREATE FUNCTION public.frozen() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'grants are frozen in this database'; END $$`)
	svc, err := newService(t, t.TempDir(), "stile", runner.Local{})
	if err != nil {
		t.Fatal(err)
	}
	addResources(t, svc, map[string]target.Target{p: tg})
	ctx := context.Background()
	role := func(label string) spec.Role {
		return spec.Role{Resource: p, Label: label, Scopes: []string{p + "_a"}, Privileges: []string{"SELECT"}}
	}
	out, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{role("ok")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, out[0].SID); err != nil {
		t.Fatal(err)
	}
	out, err = svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{role("failed")})
	if err != nil {
		t.Fatal(err)
	}
	failed := out[0].RoleName
	c.Exec(t, p+"_a", "CREATE EVENT TRIGGER "+p+"_frozen ON ddl_command_start WHEN TAG IN ('GRANT', 'REVOKE', 'ALTER DEFAULT PRIVILEGES') EXECUTE FUNCTION public.frozen()")
	if _, err := svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, out[0].SID); !errs.Is(err, errs.Failed) || !strings.Contains(err.Error(), "grants are frozen") {
		t.Fatalf("the apply that should fail: %v", err)
	}
	c.Exec(t, p+"_a", "DROP EVENT TRIGGER "+p+"_frozen")

	svc.Provisioning.checkDrift(ctx, p)
	sessions, err := svc.Reporting.Sessions(ctx, Admin, store.SessionFilter{Resource: p})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, s := range sessions {
		if s.Actor != DriftActor {
			continue
		}
		if s.Role == failed || s.Kind == store.KindDrift {
			t.Errorf("the drift check %s the role whose only apply failed: %s %s %s", s.Kind, s.Role, s.Status, s.Message)
		}
		checked++
	}
	if checked != 1 {
		t.Errorf("%d drift-check sessions, want 1 (the plan of ok)", checked)
	}
}

package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/pgtest"
)

// TestMigrateToPostgresAndReplicas moves an embedded setup to a PostgreSQL
// store with migrate-store, then runs two server replicas on it: a plan made
// on one is applied on the other, and one plan applied on both at once runs
// exactly once.
func TestMigrateToPostgresAndReplicas(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	storeURL := sharedStore(t, c, p)

	data := t.TempDir()
	h := startServer(t, data)
	res := p + "_r"
	h.addResource(res, tg)
	first := field(h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT"), "sid")
	h.ok("", "resources", "apply", res, "--sid", first)
	h.stop()
	h.stop = nil

	// The destination's URL holds a password: not on the command line,
	// where process lists show it, but in STILE_STORE.
	h.fails(1, "process lists", "", "migrate-store", "--from", "sqlite:"+filepath.Join(data, "stile.db"), "--to", storeURL)
	h.vars["STILE_STORE"] = storeURL
	out := h.ok("", "migrate-store", "--from", "sqlite:"+filepath.Join(data, "stile.db"))
	if !strings.Contains(out, "copied 1 resources, 1 roles and 2 sessions") || strings.Contains(out, tg.Password) {
		t.Fatalf("migrate-store: %s", out)
	}
	h.fails(1, "not empty", "", "migrate-store", "--from", "sqlite:"+filepath.Join(data, "stile.db"))

	// Two replicas on the PostgreSQL store, with the same data key.
	h.vars["STILE_STORE"] = storeURL
	a := startServer(t, data)
	a.vars["STILE_STORE"] = storeURL
	b := startServer(t, data)
	if out := b.ok("", "sessions", "show", first); !strings.Contains(out, "applied_by:") {
		t.Fatalf("the migrated plan session:\n%s", out)
	}
	if out := a.ok("", "resources", "health", res); !strings.Contains(out, "status: ok") {
		t.Fatalf("health with the migrated (sealed) admin credential:\n%s", out)
	}
	sid := field(a.ok("", "resources", "plan", res, "--role", "rw", "--scopes", p+"_app", "--privileges", "SELECT,INSERT"), "sid")
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, h := range []*harness{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = h.stile("", "resources", "apply", res, "--sid", sid)
		}()
	}
	wg.Wait()
	if codes[0]+codes[1] != 1 {
		t.Fatalf("one plan applied on two replicas at once exited %v, want one success", codes)
	}
	if code, _, _ := b.stile("", "resources", "plan", res, "--role", "rw", "--scopes", p+"_app", "--privileges", "SELECT,INSERT", "--detailed-exitcode"); code != 0 {
		t.Errorf("re-plan on the other replica: exit %d, want 0", code)
	}
}

// TestAgentAcrossReplicas: two replicas share a PostgreSQL store and one
// agent is connected to replica B. Work submitted to replica A for a
// resource that agent serves goes through the store's job queue to B and
// back; nothing is routed in memory.
func TestAgentAcrossReplicas(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	storeURL := sharedStore(t, c, p)
	data := t.TempDir()
	addrA := freeAddr(t)
	a := startServerWith(t, data, map[string]string{"STILE_STORE": storeURL, "addr": addrA, "args": "--advertise-url http://" + addrA})
	b := startServerWith(t, data, map[string]string{"STILE_STORE": storeURL})
	token := createAgent(t, a, "edge")
	stop := startAgent(t, b, token, "edge")
	defer stop()
	if agentStatus(a.ok("", "agents", "list"), "edge") != "online" {
		t.Fatalf("replica A does not see the agent connected to B:\n%s", a.ok("", "agents", "list"))
	}
	res := p + "_far"
	a.ok("", "resources", "import", a.write("inv.csv", fmt.Sprintf("name,type,host,port,sslmode\n%s,postgres,%s,%d,disable\n", res, tg.Host, tg.Port)))
	a.ok(tg.Password+"\n", "resources", "admin", "set", res, "--user", tg.User, "--password-stdin", "--agent", "edge")
	if out := a.ok("", "resources", "health", res); !strings.Contains(out, "status: ok") {
		t.Fatalf("health from A through the agent on B:\n%s", out)
	}
	doc := a.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")
	a.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	if code, _, _ := b.stile("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT", "--detailed-exitcode"); code != 0 {
		t.Fatalf("re-plan on B: exit %d", code)
	}

	// A person connects through replica A: A asks B's agent (through the
	// queue) to open the connection and stream it to A's advertised URL;
	// the cancel request takes the same road.
	role := field(doc, "role_name")
	if who := connectThrough(t, a, c, role, p+"_app"); who != role {
		t.Fatalf("current_user through replica A and the agent on B = %q, want %q", who, role)
	}
	// A replica without an advertised URL refuses at once, and says why.
	other := startServerWith(t, data, map[string]string{"STILE_STORE": storeURL})
	addr := freeAddr(t)
	cctx, cancelConnect := context.WithCancel(context.Background())
	connectDone := make(chan int, 1)
	go func() {
		connectDone <- run(cctx, []string{"connect", role, "--port", strings.Split(addr, ":")[1]}, other.env(nil, new(syncWriter), new(syncWriter)))
	}()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var conn *pgx.Conn
		if conn, err = pgx.Connect(context.Background(), "postgres://anyone@"+addr+"/postgres?sslmode=disable"); err == nil {
			conn.Close(context.Background())
		}
		if err == nil || strings.Contains(err.Error(), "advertise-url") {
			break
		}
	}
	cancelConnect()
	<-connectDone
	if err == nil || !strings.Contains(err.Error(), "--advertise-url") {
		t.Fatalf("connect through a replica without --advertise-url: %v", err)
	}
	stop()
	deadline := time.Now().Add(5 * time.Second)
	for agentStatus(a.ok("", "agents", "list"), "edge") != "offline" {
		if time.Now().After(deadline) {
			t.Fatal("replica A still sees the agent online")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.fails(1, "agent edge is offline", "", "resources", "health", res)
}

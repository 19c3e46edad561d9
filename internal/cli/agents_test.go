package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/pgtest"
)

// TestRemoteAgent registers an agent, runs `stile agent` against a real
// server, and serves a resource through it: admin validation, health, plan
// and apply all travel over its WebSocket. Killing the agent makes the
// resource fail at once with "offline"; restarting it resumes; revoking it
// shuts it out.
func TestRemoteAgent(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	c.Exec(t, p+"_app", "CREATE TABLE public.secrets (name text, secret text)", "INSERT INTO public.secrets VALUES ('ada', 's3cr3t')")
	psql := needPsql(t)
	dir, pgAddr := t.TempDir(), freeAddr(t)
	h := startServerWith(t, dir, map[string]string{"args": "--pg-listen " + pgAddr})
	token := createAgent(t, h, "edge")
	h.fails(1, "exists already", "", "agents", "create", "edge")
	connect := func() func() { return startAgent(t, h, token, "edge") }
	stop := connect()

	res := p + "_far"
	h.ok("", "resources", "import", h.write("inv.csv", fmt.Sprintf("name,type,host,port,sslmode\n%s,postgres,%s,%d,disable\n", res, tg.Host, tg.Port)))
	h.fails(1, "authentication failed", "wrong\n", "resources", "admin", "set", res, "--user", tg.User, "--password-stdin", "--agent", "edge")
	h.ok(tg.Password+"\n", "resources", "admin", "set", res, "--user", tg.User, "--password-stdin", "--agent", "edge")
	if out := h.ok("", "agents", "list"); !strings.Contains(out, res) {
		t.Errorf("agents list does not show the resource served:\n%s", out)
	}
	if out := h.ok("", "resources", "health", res); !strings.Contains(out, "status: ok") {
		t.Fatalf("health through the agent:\n%s", out)
	}
	doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	if code, _, _ := h.stile("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT", "--detailed-exitcode"); code != 0 {
		t.Fatalf("re-plan through the agent: exit %d", code)
	}
	if out := h.ok("", "sessions", "list", "--kind", "apply"); !strings.Contains(out, "applied") {
		t.Errorf("apply session:\n%s", out)
	}

	// People connect through the agent too: with stile connect, and with
	// psql to the server's own listener.
	role := field(doc, "role_name")
	if who := connectThrough(t, h, c, role, p+"_app"); who != role {
		t.Fatalf("current_user through the agent = %q, want %q", who, role)
	}
	admin, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	if out, err := psqlAs(psql, pgAddr, role, strings.TrimSpace(string(admin)), p+"_app", "require", "SELECT current_user"); err != nil || out != role {
		t.Fatalf("psql to the listener, through the agent: %v\n%s", err, out)
	}

	// Masking and guardrails work through the agent too: the filter runs
	// on the server, the agent names result columns for column rules and
	// opens read-only connections.
	h.ok("", "masking", "add", role, "--id", "names", "--detector", "regex", "--regex", "stile_[a-z0-9_]+", "--style", "hash")
	h.ok("", "guardrails", "set", role, "--block", "ddl")
	if out, err := psqlAs(psql, pgAddr, role, strings.TrimSpace(string(admin)), p+"_app", "require", "SELECT current_user"); err != nil || !strings.HasPrefix(out, "h:") {
		t.Errorf("a detector through the agent: %v %q", err, out)
	}
	if out, err := psqlAs(psql, pgAddr, role, strings.TrimSpace(string(admin)), p+"_app", "require", "CREATE TABLE t (x int)"); err == nil || !strings.Contains(out, "CREATE TABLE (DDL) is blocked") {
		t.Errorf("a guardrail through the agent: %v %q", err, out)
	}
	h.ok("", "masking", "add", role, "--id", "cols", "--column", "*.*.*.secret")
	if out, err := psqlAs(psql, pgAddr, role, strings.TrimSpace(string(admin)), p+"_app", "require", "SELECT name, secret FROM secrets"); err != nil || out != "ada|****" {
		t.Errorf("a column rule through the agent: %v %q", err, out)
	}
	// The masking check reaches the role through the agent on every path.
	out := h.ok("", "masking", "check", role)
	for _, want := range []string{"relay     text    masked", "listener  binary  masked", "connect   text    masked", "rule cols: " + p + "_app.public.secrets.secret", "no raw value on any path"} {
		if !strings.Contains(out, want) {
			t.Errorf("masking check through the agent lacks %q:\n%s", want, out)
		}
	}
	h.ok("", "guardrails", "set", role, "--read-only")
	if out, err := psqlAs(psql, pgAddr, role, strings.TrimSpace(string(admin)), p+"_app", "require", "SELECT current_setting('default_transaction_read_only')"); err != nil || out != "on" {
		t.Errorf("a read-only role through the agent: %v %q", err, out)
	}
	h.ok("", "masking", "remove", role, "cols")
	h.ok("", "masking", "remove", role, "names")
	h.ok("", "guardrails", "set", role)

	// The agent goes away: work fails at once, not after a timeout.
	stop()
	deadline := time.Now().Add(5 * time.Second)
	for agentStatus(h.ok("", "agents", "list"), "edge") != "offline" {
		if time.Now().After(deadline) {
			t.Fatal("the server did not notice the agent left")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	h.fails(1, "agent edge is offline", "", "resources", "health", res)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("an offline agent took %s to fail", d)
	}
	stop = connect()
	if out := h.ok("", "resources", "health", res); !strings.Contains(out, "status: ok") {
		t.Fatalf("health after the agent came back:\n%s", out)
	}
	h.ok("", "agents", "revoke", "edge")
	deadline = time.Now().Add(5 * time.Second)
	for agentStatus(h.ok("", "agents", "list"), "edge") != "revoked" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	h.fails(1, "does not exist", "", "resources", "health", res)
	stop()
}

// connectThrough runs `stile connect role` against h, connects a client
// to it, checks that a cancel request reaches the database, and returns
// current_user.
func connectThrough(t *testing.T, h *harness, c pgtest.Cluster, role, database string) string {
	t.Helper()
	addr := freeAddr(t)
	cctx, cancelConnect := context.WithCancel(context.Background())
	connectDone := make(chan int, 1)
	go func() {
		connectDone <- run(cctx, []string{"connect", role, "--port", strings.Split(addr, ":")[1], "--database", database}, h.env(nil, new(syncWriter), new(syncWriter)))
	}()
	defer func() { cancelConnect(); <-connectDone }()
	var who string
	deadline := time.Now().Add(10 * time.Second)
	for {
		cfg, _ := pgx.ParseConfig("postgres://anyone@" + addr + "/" + database + "?sslmode=disable")
		conn, err := pgx.ConnectConfig(context.Background(), cfg)
		if err == nil {
			err = conn.QueryRow(context.Background(), "SELECT current_user").Scan(&who)
		}
		if err == nil {
			// A cancel request travels client → stile connect → server → agent → database.
			assertCancels(t, c, conn)
			conn.Close(context.Background())
			if out, err := psqlAs(needPsql(t), addr, "anyone", "", database, "prefer", "SELECT current_user"); err != nil || out != who {
				t.Fatalf("psql through stile connect: %v\n%s", err, out)
			}
			return who
		}
		if time.Now().After(deadline) {
			t.Fatalf("connecting through the agent: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// agentStatus reads an agent's STATUS column from `stile agents list`.
func agentStatus(list, name string) string {
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == name {
			return f[1]
		}
	}
	return ""
}

// createAgent registers an agent and returns its token.
func createAgent(t *testing.T, h *harness, name string) string {
	t.Helper()
	out := h.ok("", "agents", "create", name)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "stla_") {
			return line
		}
	}
	t.Fatalf("no token in:\n%s", out)
	return ""
}

// startAgent runs `stile agent` against h until the returned stop is
// called, and waits until h sees it online.
func startAgent(t *testing.T, h *harness, token, name string) (stop func()) {
	t.Helper()
	return runAgent(t, h, name, map[string]string{"STILE_AGENT_TOKEN": token})
}

// startAgentEnv is startAgent with h's own environment (STILE_CA …).
func startAgentEnv(t *testing.T, h *harness, name string) (stop func()) {
	t.Helper()
	vars := map[string]string{}
	for k, v := range h.vars {
		vars[k] = v
	}
	return runAgent(t, h, name, vars)
}

func runAgent(t *testing.T, h *harness, name string, vars map[string]string, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"agent", "--url", h.vars["STILE_URL"]}, args...), &env{
			stdin: strings.NewReader(""), stdout: &syncWriter{w: new(bytes.Buffer)}, stderr: &syncWriter{w: new(bytes.Buffer)},
			getenv: func(k string) string { return vars[k] },
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for agentStatus(h.ok("", "agents", "list"), name) != "online" {
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not come online:\n%s", h.ok("", "agents", "list"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

// TestAgentFaults: an agent killed mid-apply fails the session with what is
// known and a re-plan shows everything still to do; a restarted server gets
// its agents back by themselves.
func TestAgentFaults(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	data := t.TempDir()
	h := startServerWith(t, data, map[string]string{"args": "--lock-database " + p + "_app"})
	token := createAgent(t, h, "edge")
	stop := startAgent(t, h, token, "edge")
	res := p + "_far"
	h.ok("", "resources", "import", h.write("inv.csv", fmt.Sprintf("name,type,host,port,sslmode\n%s,postgres,%s,%d,disable\n", res, tg.Host, tg.Port)))
	h.ok(tg.Password+"\n", "resources", "admin", "set", res, "--user", tg.User, "--password-stdin", "--agent", "edge")
	doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")

	// The apply waits on the cluster's lock inside the agent; kill the agent.
	lock, release := holdApplyLock(t, c, p+"_app")
	done := make(chan string, 1)
	go func() {
		_, _, errOut := h.stile("", "resources", "apply", res, "--sid", field(doc, "sid"))
		done <- errOut
	}()
	// Wait until the agent's apply is blocked on the lock, inside the job.
	waitForBlocked(t, lock, nil)
	stop()
	// Either the connection drops first ("went offline"), or the stopping
	// agent's cancelled job reports back first: both fail the apply with
	// what is known.
	if errOut := <-done; !strings.Contains(errOut, "went offline during the apply batch job") && !strings.Contains(errOut, "context canceled") {
		t.Fatalf("apply when the agent died: %q", errOut)
	}
	release()
	if out := h.ok("", "sessions", "list", "--kind", "apply", "--json"); !strings.Contains(out, `"status": "failed"`) {
		t.Fatalf("the apply session:\n%s", out)
	}

	// The server restarts on the same address: the agent reconnects alone.
	stop = startAgent(t, h, token, "edge")
	defer stop()
	addr := strings.TrimPrefix(h.vars["STILE_URL"], "http://")
	h.stop()
	h.stop = nil
	h2 := startServerWith(t, data, map[string]string{"addr": addr, "args": "--lock-database " + p + "_app"})
	deadline := time.Now().Add(15 * time.Second)
	for agentStatus(h2.ok("", "agents", "list"), "edge") != "online" {
		if time.Now().After(deadline) {
			code, out, errOut := h2.stile("", "agents", "list")
			t.Fatalf("the agent did not reconnect: exit %d\n%s\n%s", code, out, errOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
	doc = h2.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")
	if !strings.Contains(doc, "CREATE ROLE") {
		t.Fatalf("re-plan after the killed apply should still create the role:\n%s", doc)
	}
	h2.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
}

// TestTwoAgentsTwoClusters: two agents, each serving a resource on its own
// PostgreSQL cluster, plan and apply in one batch.
func TestTwoAgentsTwoClusters(t *testing.T) {
	clusters := pgtest.Clusters(t)
	if len(clusters) < 2 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs two clusters at least (make test starts 15, 16 and 17)")
		}
		t.Skip("needs two clusters")
	}
	h := startServer(t, t.TempDir())
	var items strings.Builder
	items.WriteString("items:\n")
	csv := "name,type,host,port,sslmode\n"
	for i, c := range clusters[:2] {
		p := c.Prefix(t)
		tg := c.Target()
		c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
		name := fmt.Sprintf("edge%d", i)
		stop := startAgent(t, h, createAgent(t, h, name), name)
		defer stop()
		res := fmt.Sprintf("%s_pg%s", p, c.Version)
		csv += fmt.Sprintf("%s,postgres,%s,%d,disable\n", res, tg.Host, tg.Port)
		h.ok("", "resources", "import", h.write("inv.csv", csv))
		h.ok(tg.Password+"\n", "resources", "admin", "set", res, "--user", tg.User, "--password-stdin", "--agent", name)
		fmt.Fprintf(&items, "  - resource_name: %s\n    role: ro\n    scopes: [%s_app]\n    privileges: [SELECT]\n", res, p)
	}
	results := filepath.Join(h.dir, "results.yaml")
	h.ok("", "resources", "plan", "-f", h.write("plan.yaml", items.String()), "-o", results)
	if out := h.ok("", "resources", "apply", "-f", results); strings.Count(out, "  applied  ") != 2 {
		t.Fatalf("apply through two agents:\n%s", out)
	}
	if code, _, _ := h.stile("", "resources", "plan", "-f", filepath.Join(h.dir, "plan.yaml"), "--detailed-exitcode"); code != 0 {
		t.Fatalf("re-plan: exit %d", code)
	}
}

func cancelCtx() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// TestJobTimeout: an apply that outlives the server's apply timeout (here
// it waits on the cluster's lock) is cancelled and its session fails.
func TestJobTimeout(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	h := startServerWith(t, t.TempDir(), map[string]string{"args": "--apply-timeout=1s --lock-database " + p + "_app"})
	token := createAgent(t, h, "edge")
	stop := startAgent(t, h, token, "edge")
	defer stop()
	res := p + "_far"
	h.ok("", "resources", "import", h.write("inv.csv", fmt.Sprintf("name,type,host,port,sslmode\n%s,postgres,%s,%d,disable\n", res, tg.Host, tg.Port)))
	h.ok(tg.Password+"\n", "resources", "admin", "set", res, "--user", tg.User, "--password-stdin", "--agent", "edge")
	doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")
	_, release := holdApplyLock(t, c, p+"_app")
	defer release()
	h.fails(1, "timed out", "", "resources", "apply", res, "--sid", field(doc, "sid"))
	if out := h.ok("", "sessions", "list", "--kind", "apply", "--json"); !strings.Contains(out, `"status": "failed"`) {
		t.Fatalf("the timed-out apply session:\n%s", out)
	}
}

// waitForBlocked waits until a session waits on a lock that conn's
// session holds: with conn holding what an apply needs (the cluster's
// apply lock, a catalog row it changes), the apply is then inside its job,
// blocked. Only the sessions conn blocks count: other packages' tests
// apply on the same clusters at the same time. When ended, if set, says
// what the command it waits for printed, it stops once the command ended.
func waitForBlocked(t *testing.T, conn *pgx.Conn, ended chan string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var waiting bool
		conn.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid)))`,
			conn.PgConn().PID()).Scan(&waiting)
		if waiting {
			return
		}
		select {
		case out := <-ended:
			t.Fatalf("the command ended before it waited on the test's lock:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing waited on the test's lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

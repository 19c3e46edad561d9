package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store/sqlite"
)

// planFile writes a plan file of roles (resource, label, scope) and plans
// it into a results file, whose path it returns.
func planFile(h *harness, roles [][3]string) string {
	h.t.Helper()
	var b strings.Builder
	b.WriteString("items:\n")
	for _, r := range roles {
		fmt.Fprintf(&b, "  - resource_name: %s\n    role: %s\n    scopes: [%s]\n    privileges: [SELECT]\n", r[0], r[1], r[2])
	}
	results := filepath.Join(h.dir, "results.yaml")
	h.ok("", "resources", "plan", "-f", h.write("plan.yaml", b.String()), "-o", results)
	return results
}

// TestApplyFileStreams: apply -f sends the file as one batch and prints each
// entry as it lands. With the apply lock of one cluster held, the entries
// of the other cluster are printed (--json, one object per line) while the
// command still waits; once the lock is free the rest follow and it exits 0.
func TestApplyFileStreams(t *testing.T) {
	c1, c2 := pgtest.Two(t)
	p1, p2 := c1.Prefix(t), c2.Prefix(t)
	c1.Exec(t, "postgres", "CREATE DATABASE "+p1+"_a")
	c2.Exec(t, "postgres", "CREATE DATABASE "+p2+"_a")
	// The server's lock database exists on both clusters.
	lockDB := p1 + "_lock"
	c1.Exec(t, "postgres", "CREATE DATABASE "+lockDB)
	c2.Exec(t, "postgres", "CREATE DATABASE "+lockDB)
	t.Cleanup(func() { c2.Exec(t, "postgres", "DROP DATABASE IF EXISTS "+lockDB+" WITH (FORCE)") })
	h := startServerWith(t, t.TempDir(), map[string]string{"args": "--lock-database " + lockDB})
	r1, r2 := p1+"_one", p2+"_two"
	h.addResource(r1, c1.Target())
	h.addResource(r2, c2.Target())
	results := planFile(h, [][3]string{{r1, "a", p1 + "_a"}, {r2, "a", p2 + "_a"}, {r1, "b", p1 + "_a"}, {r1, "c", p1 + "_a"}})

	_, release := holdApplyLock(t, c2, lockDB)
	out, errOut := &syncWriter{}, &syncWriter{}
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"resources", "apply", "-f", results, "--json"}, h.env(nil, out, errOut))
	}()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(strings.Join(out.lines(), "\n"), `"status":"applied"`) < 3 {
		select {
		case code := <-done:
			t.Fatalf("apply -f ended (exit %d) while a cluster's lock was held:\n%s\n%s", code, out.lines(), errOut.lines())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other cluster's entries never landed:\n%s", strings.Join(out.lines(), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := strings.Join(out.lines(), "\n"); strings.Contains(s, r2) {
		t.Fatalf("the entry of the locked cluster landed:\n%s", s)
	}
	release()
	if code := <-done; code != 0 {
		t.Fatalf("apply -f: exit %d\n%s\n%s", code, strings.Join(out.lines(), "\n"), strings.Join(errOut.lines(), "\n"))
	}
	lines := out.lines()
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var last struct {
		Resource string  `json:"resource_name"`
		Status   string  `json:"status"`
		Seconds  float64 `json:"seconds"`
	}
	if err := json.Unmarshal([]byte(lines[3]), &last); err != nil || last.Resource != r2 || last.Status != "applied" {
		t.Fatalf("the last line (%v): %s", err, lines[3])
	}
	if last.Seconds <= 0 {
		t.Errorf("the last line has no duration: %s", lines[3])
	}
}

// TestKilledServerMidBatch: a real `stile server` process is SIGKILLed
// while a batch of three new roles runs (every item claimed, each with a
// pending password), at each stage of the batch's transactions: waiting
// for the cluster's lock; in the role-level transaction (b's CREATE ROLE
// waits on a test's uncommitted CREATE ROLE of the same name); in the
// database's transaction after the role-level one committed (a GRANT waits
// on a test's uncommitted ALTER TABLE). After a restart no session is
// running, no role keeps a pending password, every role the cluster has
// logs in with the password stile holds for it (none is unknown), and the
// roles plan and apply cleanly.
func TestKilledServerMidBatch(t *testing.T) {
	for _, stage := range []string{"lock", "role transaction", "database transaction"} {
		t.Run(strings.ReplaceAll(stage, " ", "_"), func(t *testing.T) { killMidBatch(t, stage) })
	}
}

func killMidBatch(t *testing.T, stage string) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	app := p + "_app"
	c.Exec(t, "postgres", "CREATE DATABASE "+app)
	c.Exec(t, app, "CREATE TABLE public.t (id int)")
	h, start := processServer(t, "--lock-database", app)
	srv := start()
	res := p + "_r"
	h.addResource(res, tg)
	roles := [][3]string{{res, "a", app}, {res, "b", app}, {res, "c", app}}
	results := planFile(h, roles)
	names := map[string]string{}
	for _, r := range roles {
		name, err := spec.RoleName("stile", r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		names[r[1]] = name
	}

	// What the apply will wait on.
	ctx := context.Background()
	var hold *pgx.Conn
	release := func() {}
	switch stage {
	case "lock":
		hold, release = holdApplyLock(t, c, app)
	case "role transaction":
		hold = c.Conn(t, "postgres")
		if _, err := hold.Exec(ctx, `BEGIN; CREATE ROLE "`+names["b"]+`"`); err != nil {
			t.Fatal(err)
		}
		release = func() { hold.Exec(ctx, "ROLLBACK") }
	case "database transaction":
		hold = c.Conn(t, app)
		if _, err := hold.Exec(ctx, "BEGIN; ALTER TABLE public.t ADD COLUMN note text"); err != nil {
			t.Fatal(err)
		}
		release = func() { hold.Exec(ctx, "ROLLBACK") }
	}
	done := make(chan string, 1)
	go func() {
		code, out, errOut := h.stile("", "resources", "apply", "-f", results)
		done <- fmt.Sprintf("exit %d\n%s\n%s", code, out, errOut)
	}()
	waitForBlocked(t, hold, done)
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()
	if out := <-done; strings.HasPrefix(out, "exit 0") {
		t.Fatalf("apply -f succeeded although its server was killed:\n%s", out)
	}
	release()

	srv = start()
	if out := h.ok("", "sessions", "list", "--status", "running"); strings.Contains(out, "apply") {
		t.Fatalf("sessions still running after the restart:\n%s", out)
	}
	if out := h.ok("", "sessions", "list", "--kind", "apply", "--status", "failed", "--json"); strings.Count(out, "server stopped") != 3 {
		t.Fatalf("the interrupted applies:\n%s", out)
	}
	// The role-level transaction committed only when the kill came after
	// it: then every role exists, with the password stile holds.
	conn := c.Conn(t, "postgres")
	for _, label := range []string{"a", "b", "c"} {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", names[label]).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if want := stage == "database transaction"; exists != want {
			t.Fatalf("%s exists: %v after a kill in the %s", names[label], exists, stage)
		}
		if !exists {
			continue
		}
		pw := strings.TrimSpace(h.ok("", "roles", "reveal", names[label]))
		login, err := c.As(names[label], pw).Connect(ctx, "postgres")
		if err != nil {
			t.Fatalf("%s does not log in with the password stile holds: %v", names[label], err)
		}
		login.Close(ctx)
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	st, err := sqlite.Open(ctx, filepath.Join(h.dir, "stile.db"))
	if err != nil {
		t.Fatal(err)
	}
	pending, err := st.PendingPasswords(ctx)
	st.Close()
	if err != nil || len(pending) != 0 {
		t.Fatalf("pending passwords after the restart (%v): %d", err, len(pending))
	}
	start()
	h.ok("", "resources", "apply", "-f", planFile(h, roles))
	h.ok("", "resources", "plan", "--all", "--detailed-exitcode")
}

// TestApplyFileInterrupted: Ctrl-C stops waiting, never the work. With the
// cluster's lock held, apply -f is interrupted: it exits 130 saying how to
// follow the applies, which land once the lock is free.
func TestApplyFileInterrupted(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_a")
	h := startServerWith(t, t.TempDir(), map[string]string{"args": "--lock-database " + p + "_a"})
	res := p + "_r"
	h.addResource(res, c.Target())
	results := planFile(h, [][3]string{{res, "a", p + "_a"}, {res, "b", p + "_a"}})

	lock, release := holdApplyLock(t, c, p+"_a")
	ctx, interrupt := context.WithCancel(context.Background())
	out, errOut := &syncWriter{}, &syncWriter{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"resources", "apply", "-f", results}, h.env(nil, out, errOut)) }()
	waitForBlocked(t, lock, nil)
	interrupt()
	if code := <-done; code != 130 || !strings.Contains(strings.Join(errOut.lines(), "\n"), "stile sessions list --kind apply --since") {
		t.Fatalf("interrupted apply -f: exit %d\n%s", code, strings.Join(errOut.lines(), "\n"))
	}
	release()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(h.ok("", "sessions", "list", "--kind", "apply", "--status", "applied"), "applied") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the interrupted batch did not go on:\n%s", h.ok("", "sessions", "list", "--kind", "apply"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

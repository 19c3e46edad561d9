package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/pgtest"
)

// TestKilledServerRestarts kills a real `stile server` process (SIGKILL)
// while an apply waits for the cluster's lock, restarts it on the same data
// dir, and checks that everything committed is there, that the interrupted
// apply is marked failed, and that a re-plan shows what is left.
func TestKilledServerRestarts(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	h, start := processServer(t, "--lock-database", p+"_app")
	srv := start()
	res := p + "_r"
	h.addResource(res, tg)
	doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")
	sid := field(doc, "sid")

	// Hold the cluster's apply lock so the apply waits inside the server.
	_, release := holdApplyLock(t, c, p+"_app")
	done := make(chan struct{})
	go func() {
		h.stile("", "resources", "apply", res, "--sid", sid)
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.ok("", "sessions", "list", "--kind", "apply"), "running") {
		if time.Now().After(deadline) {
			t.Fatal("the apply never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()
	<-done
	release()

	start()
	if out := h.ok("", "sessions", "show", sid); !strings.Contains(out, "status: out-of-sync") || !strings.Contains(out, "applied_by:") {
		t.Errorf("the plan session after a restart:\n%s", out)
	}
	out := h.ok("", "sessions", "list", "--kind", "apply", "--json")
	if !strings.Contains(out, `"status": "failed"`) || !strings.Contains(out, "server stopped") {
		t.Errorf("the interrupted apply was not marked failed:\n%s", out)
	}
	// Nothing ran: a re-plan shows the whole role still to create, and
	// applies cleanly.
	doc = h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")
	if !strings.Contains(doc, "CREATE ROLE") {
		t.Fatalf("re-plan after the restart:\n%s", doc)
	}
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
}

// holdApplyLock takes the apply lock of c's cluster in database db, so
// that applies of a server started with --lock-database db wait for it
// inside the server or agent; lock is the connection holding it
// (for waitForBlocked), release gives it back.
func holdApplyLock(t *testing.T, c pgtest.Cluster, db string) (lock *pgx.Conn, release func()) {
	t.Helper()
	lock = c.Conn(t, db)
	class, key := apply.LockKeys(c.Target())
	if _, err := lock.Exec(context.Background(), "SELECT pg_advisory_lock($1, $2)", class, key); err != nil {
		t.Fatal(err)
	}
	return lock, func() { lock.Exec(context.Background(), "SELECT pg_advisory_unlock($1, $2)", class, key) }
}

// processServer returns a harness for `stile server` processes on one data
// dir of their own, and start, which starts one on a new address (the
// harness then talks to it), with args added to each start.
func processServer(t *testing.T, args ...string) (*harness, func() *exec.Cmd) {
	t.Helper()
	bin := buildStile(t)
	data := t.TempDir()
	h := &harness{t: t, dir: data, vars: map[string]string{"STILE_DATA": data}}
	return h, func() *exec.Cmd {
		addr := freeAddr(t)
		h.vars["STILE_URL"] = "http://" + addr
		return startProcess(t, bin, addr, nil, append([]string{"--data", data}, args...)...)
	}
}

// buildStile builds the stile binary for tests that run it as a process.
func buildStile(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stile")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/stile").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address with a free port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcess runs `stile server --listen addr args…` as a process, killed
// at cleanup, and waits until it answers.
func startProcess(t *testing.T, bin, addr string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"server", "--listen", addr}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return cmd
		}
		if i > 400 {
			t.Fatalf("server did not start:\n%s", log.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

package cli

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/pgtest"
)

// TestReplicaKilledMidApply: replicas A and B (real processes) share a
// PostgreSQL store; the agent is connected to B. An apply submitted to A is
// queued, claimed by B and running on the agent when A is SIGKILLed. The
// agent finishes it; A, restarted under the same replica id, marks its
// session failed at once and settles the pending password with a login,
// and a re-plan shows nothing left.
func TestReplicaKilledMidApply(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	storeURL := sharedStore(t, c, p)
	bin := buildStile(t)
	data := t.TempDir()
	start := func(addr, replica string) *exec.Cmd {
		return startProcess(t, bin, addr, []string{"STILE_STORE=" + storeURL}, "--data", data, "--replica-id", replica, "--lock-database", p+"_app")
	}
	addrA, addrB := freeAddr(t), freeAddr(t)
	procA := start(addrA, "A")
	start(addrB, "B")
	a := &harness{t: t, dir: data, vars: map[string]string{"STILE_DATA": data, "STILE_URL": "http://" + addrA}}
	b := &harness{t: t, dir: data, vars: map[string]string{"STILE_DATA": data, "STILE_URL": "http://" + addrB}}
	token := createAgent(t, a, "edge")
	stop := startAgent(t, b, token, "edge")
	defer stop()
	res := p + "_far"
	a.ok("", "resources", "import", a.write("inv.csv", fmt.Sprintf("name,type,host,port,sslmode\n%s,postgres,%s,%d,disable\n", res, tg.Host, tg.Port)))
	a.ok(tg.Password+"\n", "resources", "admin", "set", res, "--user", tg.User, "--password-stdin", "--agent", "edge")
	doc := a.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")

	lock, release := holdApplyLock(t, c, p+"_app")
	go a.stile("", "resources", "apply", res, "--sid", field(doc, "sid"))
	waitForBlocked(t, lock, nil)
	procA.Process.Signal(syscall.SIGKILL)
	procA.Wait()
	release()

	// The agent finishes the job and B records it in the queue; then A
	// comes back.
	sc := c.Conn(t, p+"_store")
	deadline := time.Now().Add(15 * time.Second)
	for {
		var done bool
		sc.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM stile_jobs WHERE kind = 'apply_batch' AND status = 'done')").Scan(&done)
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent did not finish the orphaned apply")
		}
		time.Sleep(20 * time.Millisecond)
	}
	start(addrA, "A")
	out := a.ok("", "sessions", "list", "--kind", "apply", "--json")
	if !strings.Contains(out, `"status": "failed"`) || !strings.Contains(out, "server stopped") {
		t.Fatalf("A's interrupted apply session:\n%s", out)
	}
	if code, out, _ := b.stile("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT", "--detailed-exitcode"); code != 0 {
		rows, _ := sc.Query(context.Background(), "SELECT kind, status, left(result, 600), error FROM stile_jobs ORDER BY created_at")
		for rows.Next() {
			var k, st, r, e string
			rows.Scan(&k, &st, &r, &e)
			t.Logf("job %s %s %s %s", k, st, r, e)
		}
		rows.Close()
		t.Fatalf("re-plan after the agent finished the job: exit %d\n%s", code, out)
	}
}

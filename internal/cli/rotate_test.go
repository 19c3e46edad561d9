package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/pgtest"
)

// TestRotate: stile roles rotate sets a new password through a plan and
// its apply: the new one logs in, the old one does not, and a connection
// open through stile keeps working while new ones use the new password. A
// password revealed since it was set needs --force; a role that differs
// from its declaration in more than its password is refused as drift. On
// a schedule, a revealed password is skipped with an alert, and one not
// revealed rotates by itself.
func TestRotate(t *testing.T) {
	s := startRoleServer(t, "--rotate-check-every 1s", "ro", "SELECT")
	h, tg, role, db, pgAddr, admin := s.harness, s.tg, s.role, s.db, s.pgAddr, s.admin
	c := s.c
	login := func(pw string) bool {
		ok, err := inspect.CheckLogin(context.Background(), tg, role, pw)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	open, err := listenerConn(pgAddr, role, db, admin)
	if err != nil {
		t.Fatalf("a connection through stile before the rotation: %v", err)
	}
	defer open.Close(context.Background())
	old := strings.TrimSpace(h.ok("", "roles", "reveal", role))
	h.fails(1, "was revealed to", "", "roles", "rotate", role)
	if out := h.ok("", "roles", "rotation", role); !strings.Contains(out, "revealed: to admin") {
		t.Fatalf("roles rotation after a reveal:\n%s", out)
	}
	if out := h.ok("", "roles", "rotate", role, "--force"); !strings.Contains(out, "has a new password") {
		t.Fatalf("rotate --force: %s", out)
	}
	first := strings.TrimSpace(h.ok("", "roles", "reveal", role))
	if first == old || login(old) || !login(first) {
		t.Fatalf("after the rotation: the old password logs in %v, the new one %v", login(old), login(first))
	}
	if _, err := open.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatalf("the connection open through stile broke: %v", err)
	}
	again, err := listenerConn(pgAddr, role, db, admin)
	if err != nil {
		t.Fatalf("a new connection through stile after the rotation: %v", err)
	}
	again.Close(context.Background())
	if out := h.ok("", "sessions", "list", "--kind", "apply", "--json"); strings.Contains(out, first) || strings.Contains(out, old) {
		t.Fatal("an apply session holds a password")
	}

	// More than the password differs: drift, nothing changed.
	c.Exec(t, "postgres", `ALTER ROLE "`+role+`" CONNECTION LIMIT 5`)
	h.fails(exitDrift, "more than its password", "", "roles", "rotate", role, "--force")
	if !login(first) {
		t.Fatal("a refused rotation changed the password")
	}
	c.Exec(t, "postgres", `ALTER ROLE "`+role+`" CONNECTION LIMIT -1`)

	// On a schedule: revealed (above), so skipped with an alert.
	h.ok("", "roles", "rotate", role, "--every", "2s")
	waitFor(t, "the skipped rotation's alert", 15*time.Second, func() bool {
		return strings.Contains(h.ok("", "sessions", "list", "--kind", "alert", "--json"), "the scheduled rotation of "+role+"'s password did not happen")
	})
	if !login(first) {
		t.Fatal("a skipped rotation changed the password")
	}
	// Rotated by force once more (nobody has seen that one), the schedule
	// rotates it by itself.
	h.ok("", "roles", "rotate", role, "--force")
	var st api.RotationStatus
	if err := json.Unmarshal([]byte(h.ok("", "roles", "rotation", role, "--json")), &st); err != nil || st.RevealedBy != "" || st.Schedule == nil {
		t.Fatalf("rotation status: %+v %v", st, err)
	}
	waitFor(t, "a scheduled rotation", 20*time.Second, func() bool {
		var now api.RotationStatus
		json.Unmarshal([]byte(h.ok("", "roles", "rotation", role, "--json")), &now)
		return now.SetAt.After(st.SetAt)
	})
	if out := h.ok("", "sessions", "list", "--kind", "apply", "--json"); !strings.Contains(out, `"actor": "rotation"`) {
		t.Errorf("no apply session by the schedule:\n%s", out)
	}
	h.ok("", "roles", "rotate", role, "--every", "0")
	if out := h.ok("", "roles", "rotation", role); !strings.Contains(out, "schedule: none") {
		t.Errorf("after --every 0:\n%s", out)
	}
	// Counted for Prometheus.
	req, _ := http.NewRequest("GET", h.vars["STILE_URL"]+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`stile_password_rotations_total{outcome="rotated",trigger="manual"} 2`, `stile_password_rotations_total{outcome="failed",trigger="manual"} 1`, `stile_password_rotations_total{outcome="skipped",trigger="manual"} 1`, `stile_password_rotations_total{outcome="skipped",trigger="scheduled"}`, `stile_password_rotations_total{outcome="rotated",trigger="scheduled"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestKilledRotation: a server killed while a rotation waits for the
// cluster's lock restarts knowing the password the role has: the pending
// one it never set is dropped, and the password it gives logs in.
func TestKilledRotation(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	db := p + "_app"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	h, start := processServer(t, "--lock-database", db)
	srv := start()
	res := p + "_r"
	h.addResource(res, tg)
	doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", db, "--privileges", "SELECT")
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	role := field(doc, "role_name")

	_, release := holdApplyLock(t, c, db)
	done := make(chan struct{})
	go func() {
		h.stile("", "roles", "rotate", role)
		close(done)
	}()
	waitFor(t, "the rotation's apply waiting for the lock", 15*time.Second, func() bool {
		return strings.Contains(h.ok("", "sessions", "list", "--kind", "apply"), "running")
	})
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()
	<-done
	release()

	start()
	pw := strings.TrimSpace(h.ok("", "roles", "reveal", role))
	if ok, err := inspect.CheckLogin(context.Background(), tg, role, pw); err != nil || !ok {
		t.Fatalf("after the restart the password stile gives does not log in: %v %v", ok, err)
	}
	// And a rotation then works.
	h.ok("", "roles", "rotate", role, "--force")
	pw2 := strings.TrimSpace(h.ok("", "roles", "reveal", role))
	if ok, _ := inspect.CheckLogin(context.Background(), tg, role, pw2); !ok || pw2 == pw {
		t.Fatal("the rotation after the restart")
	}
}

// TestSuggest: the statements a role's connections ran, read with
// PostgreSQL's parser, narrow its declaration to the scope and table
// privileges they used; planned and applied like any declaration, the role
// keeps what it used and loses the rest.
func TestSuggest(t *testing.T) {
	s := startRoleServer(t, "", "app", "SELECT,INSERT,UPDATE,DELETE,REFERENCES,EXECUTE", "CREATE TABLE public.t (id int)", "CREATE SCHEMA other", "CREATE TABLE other.u (id int)")
	h, c, res, role, db := s.harness, s.c, s.res, s.role, s.db
	conn, err := listenerConn(s.pgAddr, role, db, s.admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{"SELECT count(*) FROM public.t", "INSERT INTO t VALUES (1)", "WITH x AS (SELECT 1) SELECT * FROM x", "SELECT count(*) FROM public.t"} {
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	conn.Close(context.Background())
	var sug api.Suggestion
	waitFor(t, "the connection's statements recorded", 10*time.Second, func() bool {
		json.Unmarshal([]byte(h.ok("", "roles", "suggest", role, "--json")), &sug)
		return sug.Statements >= 4
	})
	if len(sug.Used) != 1 || sug.Used[0].Scope != db+".public" || strings.Join(sug.Used[0].Privileges, ",") != "SELECT,INSERT" ||
		strings.Join(sug.UnusedPrivileges, ",") != "UPDATE,DELETE" || strings.Join(sug.NotJudged, ",") != "REFERENCES,EXECUTE" || sug.Suggested == nil ||
		sug.Unreadable != 0 || strings.Join(sug.Suggested.Scopes, ",") != db+".public" || strings.Join(sug.Suggested.Privileges, ",") != "SELECT,INSERT,REFERENCES,EXECUTE" {
		t.Fatalf("the suggestion: %+v", sug)
	}
	if out := h.ok("", "roles", "suggest", role); !strings.Contains(out, "never used: UPDATE, DELETE") || !strings.Contains(out, "suggested declaration") {
		t.Errorf("roles suggest:\n%s", out)
	}
	code, out, _ := h.stile("", "roles", "suggest", role, "--plan")
	if code != 0 || !strings.Contains(out, "out-of-sync") {
		t.Fatalf("roles suggest --plan: exit %d\n%s", code, out)
	}
	sid := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1])[0]
	h.ok("", "resources", "apply", res, "--sid", sid)
	var canSelect, canUpdate, canOther bool
	c.Conn(t, db).QueryRow(context.Background(), "SELECT has_table_privilege($1, 'public.t', 'SELECT'), has_table_privilege($1, 'public.t', 'UPDATE'), has_table_privilege($1, 'other.u', 'SELECT')", role).Scan(&canSelect, &canUpdate, &canOther)
	if !canSelect || canUpdate || canOther {
		t.Errorf("after applying the suggestion: SELECT %v, UPDATE %v, other schema %v; want true, false, false", canSelect, canUpdate, canOther)
	}
}

package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/pgtest"
)

// TestMembers: a member sees and connects to the resource roles their
// groups allow and nothing else; admin routes answer 403; disabling the
// user closes their open connection and their token stops working.
func TestMembers(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	pgAddr := freeAddr(t)
	h := startServerWith(t, t.TempDir(), map[string]string{"args": "--pg-listen " + pgAddr})
	res := p + "_r"
	h.addResource(res, tg)
	roles := map[string]string{}
	for _, label := range []string{"ro", "rw"} {
		doc := h.ok("", "resources", "plan", res, "--role", label, "--scopes", p+"_app", "--privileges", "SELECT")
		h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
		roles[label] = field(doc, "role_name")
	}
	h.ok("", "users", "create", "ann")
	code, out, words := h.stile("", "tokens", "create", "ann")
	token := strings.TrimSpace(out)
	if code != 0 || strings.Count(token, "\n") != 0 || !strings.HasPrefix(words, "token ") {
		t.Fatalf("tokens create: exit %d, stdout %q (want the token alone), stderr %q", code, out, words)
	}
	if list := h.ok("", "tokens", "list", "ann"); !strings.Contains(list, strings.Fields(words)[1]) || strings.Contains(list, token) {
		t.Fatalf("ann's tokens:\n%s", list)
	}
	h.fails(1, "does not exist", "", "tokens", "list", "nobody")
	h.ok("", "groups", "create", "analysts")
	h.ok("", "groups", "add", "analysts", "ann")
	h.ok("", "access", "grant", roles["ro"], "--group", "analysts")
	h.fails(1, "does not exist", "", "access", "grant", "nope", "--group", "analysts")
	// Each change to who may use what is a session in the audit trail.
	audit := h.ok("", "sessions", "list", "--kind", "access", "--json")
	for _, want := range []string{"added member ann", "made token", "added group analysts", "added ann to group analysts",
		"granted group analysts the use of " + roles["ro"]} {
		if !strings.Contains(audit, want) {
			t.Errorf("access sessions lack %q:\n%s", want, audit)
		}
	}
	if strings.Contains(audit, token) {
		t.Fatal("an access session holds a token")
	}

	ann := &harness{t: t, dir: h.dir, vars: map[string]string{"STILE_URL": h.vars["STILE_URL"], "STILE_TOKEN": token}}
	if out := ann.ok("", "roles", "list"); !strings.Contains(out, roles["ro"]) || strings.Contains(out, roles["rw"]) {
		t.Fatalf("ann's roles:\n%s", out)
	}
	ann.fails(1, "does not exist", "", "roles", "show", roles["rw"])
	ann.fails(1, "does not exist", "", "connect", roles["rw"], "--port", "0")
	for _, args := range [][]string{{"resources", "list"}, {"sessions", "list"}, {"roles", "reveal", roles["ro"]}, {"users", "list"}, {"agents", "list"}, {"tokens", "list", "ann"}} {
		ann.fails(4, "not an administrator", "", args...)
	}

	// Through the server's listener, with her token as the password.
	connect := func(role, password string) (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%s user=%s dbname=%s_app sslmode=require", strings.Split(pgAddr, ":")[1], role, p))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Password = password
		return pgx.ConnectConfig(context.Background(), cfg)
	}
	conn, err := connect(roles["ro"], token)
	if err != nil {
		t.Fatalf("ann connecting to her role: %v", err)
	}
	defer conn.Close(context.Background())
	var who string
	conn.QueryRow(context.Background(), "SELECT current_user").Scan(&who)
	if who != roles["ro"] {
		t.Fatalf("current_user = %q", who)
	}
	if _, err := connect(roles["rw"], token); err == nil || !strings.Contains(err.Error(), "may not use") {
		t.Fatalf("ann connecting to a role she lacks: %v", err)
	}
	if _, err := connect(roles["ro"], "stlp_wrong"); err == nil || !strings.Contains(err.Error(), "28P01") {
		t.Fatalf("a wrong token: %v", err)
	}

	// A role that needs approval: her connection waits for an admin.
	h.ok("", "access", "require-approval", roles["ro"])
	pending := func() string {
		deadline := time.Now().Add(10 * time.Second)
		for {
			out := h.ok("", "approvals", "list")
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) >= 5 && f[1] == "ann" && f[4] == "pending" {
					return f[0]
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no pending approval:\n%s", out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	type result struct {
		conn *pgx.Conn
		err  error
	}
	waiting := make(chan result, 1)
	go func() { c, err := connect(roles["ro"], token); waiting <- result{c, err} }()
	h.ok("", "approvals", "approve", pending())
	got := <-waiting
	if got.err != nil {
		t.Fatalf("approved connection: %v", got.err)
	}
	got.conn.Close(context.Background())
	go func() { c, err := connect(roles["ro"], token); waiting <- result{c, err} }()
	h.ok("", "approvals", "deny", pending())
	if got := <-waiting; got.err == nil || !strings.Contains(got.err.Error(), "denied") {
		t.Fatalf("denied connection: %v", got.err)
	}
	if out := h.ok("", "sessions", "list", "--kind", "approval"); !strings.Contains(out, "approved") || !strings.Contains(out, "denied") {
		t.Fatalf("approval sessions:\n%s", out)
	}
	h.ok("", "access", "require-approval", roles["ro"], "--off")

	// Revoking her group's grant closes her open connections at once, and
	// her connect sessions say why.
	h.ok("", "access", "revoke", roles["ro"], "--group", "analysts")
	waitClosed(t, conn, "a connection whose grant was revoked", 5*time.Second)
	// The client sees the close before the proxy's goroutine records the
	// end of the session: wait for the record, as briefly as it takes.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out := h.ok("", "sessions", "list", "--kind", "connect", "--json")
		if strings.Contains(out, "closed by stile: ann may no longer use "+roles["ro"]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect sessions after the revoke:\n%s", out)
		}
	}
	if _, err := connect(roles["ro"], token); err == nil || !strings.Contains(err.Error(), "may not use") {
		t.Fatalf("ann connecting after the revoke: %v", err)
	}

	// Disabling her closes the open connection and refuses her token.
	h.ok("", "access", "grant", roles["ro"], "--group", "analysts")
	conn, err = connect(roles["ro"], token)
	if err != nil {
		t.Fatalf("ann connecting after the grant is back: %v", err)
	}
	defer conn.Close(context.Background())

	// Revoking one of her tokens closes the connections opened with it,
	// and only those.
	_, secondToken, secondWords := h.stile("", "tokens", "create", "ann")
	other, err := connect(roles["ro"], strings.TrimSpace(secondToken))
	if err != nil {
		t.Fatalf("ann connecting with her second token: %v", err)
	}
	defer other.Close(context.Background())
	h.ok("", "tokens", "revoke", strings.Fields(secondWords)[1])
	waitClosed(t, other, "a connection whose token was revoked", 5*time.Second)
	if _, err := conn.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatalf("the connection opened with her other token closed too: %v", err)
	}

	h.ok("", "users", "disable", "ann")
	waitClosed(t, conn, "a disabled user's connection", 5*time.Second)
	ann.fails(4, "disabled", "", "roles", "list")
}

// waitClosed waits up to within for stile to close conn.
func waitClosed(t *testing.T, conn *pgx.Conn, what string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := conn.Exec(context.Background(), "SELECT 1"); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s stayed open", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/target"
)

// member makes user (in groups) with a token and returns a harness acting
// as them.
func (h *harness) member(user string, groups ...string) *harness {
	h.ok("", "users", "create", user)
	_, token, _ := h.stile("", "tokens", "create", user)
	for _, g := range groups {
		h.ok("", "groups", "add", g, user)
	}
	return &harness{t: h.t, dir: h.dir, vars: map[string]string{"STILE_URL": h.vars["STILE_URL"], "STILE_TOKEN": strings.TrimSpace(token)}}
}

// listenerConn opens database as role through the server's PostgreSQL
// listener at addr, with token as the password.
func listenerConn(addr, role, database, token string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%s user=%s dbname=%s sslmode=require connect_timeout=5", strings.Split(addr, ":")[1], role, database))
	if err != nil {
		return nil, err
	}
	cfg.Password = token
	return pgx.ConnectConfig(context.Background(), cfg)
}

// roleServer is a server with a PostgreSQL listener over a database of its
// own on the first cluster, and one role applied on it.
type roleServer struct {
	*harness
	c                            pgtest.Cluster
	tg                           target.Target
	db, res, role, pgAddr, admin string
}

// startRoleServer starts a roleServer with args added to the server's
// (the listener's are there already); the role, labelled label, has
// privileges on the whole database, whose tables setup makes first.
func startRoleServer(t *testing.T, args, label, privileges string, setup ...string) roleServer {
	t.Helper()
	c := pgtest.First(t)
	p := c.Prefix(t)
	s := roleServer{c: c, tg: c.Target(), db: p + "_app", res: p + "_r", pgAddr: freeAddr(t)}
	c.Exec(t, "postgres", "CREATE DATABASE "+s.db)
	if len(setup) > 0 {
		c.Exec(t, s.db, setup...)
	}
	data := t.TempDir()
	s.harness = startServerWith(t, data, map[string]string{"args": strings.TrimSpace("--pg-listen " + s.pgAddr + " " + args)})
	s.addResource(s.res, s.tg)
	s.role = s.applyRole(label, privileges)
	raw, _ := os.ReadFile(filepath.Join(data, "admin.token"))
	s.admin = strings.TrimSpace(string(raw))
	return s
}

// applyRole plans and applies a role labelled label with privileges on
// the server's database, and returns its name.
func (s roleServer) applyRole(label, privileges string) string {
	doc := s.ok("", "resources", "plan", s.res, "--role", label, "--scopes", s.db, "--privileges", privileges)
	s.ok("", "resources", "apply", s.res, "--sid", field(doc, "sid"))
	return field(doc, "role_name")
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
	}
}

// TestRequests: a member eligible for a role connects only in an approved
// request's window. The policy asks two approvals from dba and a reason:
// no reason is refused, a non-approver and the requester are refused, one
// approval is not enough; once approved, connections through the listener
// and through stile connect work, as many as she likes, and all close when
// the window ends, which is recorded, and new ones are refused. A pending
// request nobody decides expires; a grant with --until ends while its
// member's connection is open.
func TestRequests(t *testing.T) {
	// The notification webhook: a Slack-compatible receiver.
	var mu sync.Mutex
	var notes []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		notes = append(notes, m)
		mu.Unlock()
	}))
	defer hook.Close()
	s := startRoleServer(t, "--notify-webhook "+hook.URL+" --public-url https://stile.example.com", "rw", "SELECT")
	h, role, db, pgAddr := s.harness, s.role, s.db, s.pgAddr
	for _, g := range []string{"oncall", "dba", "contractors"} {
		h.ok("", "groups", "create", g)
	}
	ann := h.member("ann", "oncall", "dba")
	bob := h.member("bob", "dba")
	cat := h.member("cat", "dba")
	dan := h.member("dan", "oncall")
	eve := h.member("eve", "contractors")
	annToken := ann.vars["STILE_TOKEN"]

	h.ok("", "access", "grant", role, "--group", "oncall", "--eligible")
	// The default policy, then one with two approvals by dba and a reason.
	if out := ann.ok("", "access", "policy", role); !strings.Contains(out, "stile's defaults") || !strings.Contains(out, "1 by administrators") {
		t.Fatalf("the default policy:\n%s", out)
	}
	ann.fails(exitDenied, "not an administrator", "", "access", "policy", role, "--approvals", "1")
	h.fails(1, "does not exist", "", "access", "policy", role, "--approvers", "nobody")
	h.ok("", "access", "policy", role, "--max", "1h", "--require-reason", "--approvers", "dba", "--approvals", "2", "--pending", "10m")

	// Eligible is not allowed: her connection is refused with the way in.
	if _, err := listenerConn(pgAddr, role, db, annToken); err == nil || !strings.Contains(err.Error(), "stile access request") {
		t.Fatalf("ann connecting with no window: %v", err)
	}
	if out := ann.ok("", "access", "mine"); !strings.Contains(out, role+"  request") {
		t.Fatalf("ann's access before a request:\n%s", out)
	}
	ann.fails(1, "requires a reason", "", "access", "request", role, "--for", "30m")
	ann.fails(1, "up to 1h", "", "access", "request", role, "--for", "2h", "--reason", "INC-1")
	ann.fails(1, "control character", "", "access", "request", role, "--for", "30m", "--reason", "INC-1 \x1b[2J")
	eve.fails(1, "not eligible", "", "access", "request", role, "--for", "10m", "--reason", "INC-1")

	// The window: long enough to open both connections on a loaded
	// machine, short enough to watch it end.
	const window = 15 * time.Second
	out := ann.ok("", "access", "request", role, "--for", window.String(), "--reason", "INC-1234 <!channel>")
	id := strings.Fields(out)[1]
	ann.fails(1, "pending already", "", "access", "request", role, "--for", "1m", "--reason", "again")
	if inbox := bob.ok("", "requests", "list"); !strings.Contains(inbox, id) || !strings.Contains(inbox, "INC-1234") {
		t.Fatalf("bob's inbox:\n%s", inbox)
	}
	if inbox := ann.ok("", "requests", "list"); strings.Contains(inbox, id) {
		t.Fatalf("ann's inbox holds her own request:\n%s", inbox)
	}
	ann.fails(exitDenied, "own request", "", "requests", "approve", id)
	dan.fails(exitDenied, "not an approver", "", "requests", "approve", id)
	bob.fails(1, "control character", "", "requests", "approve", id, "--reason", "ok\x1b]0;owned\x07")
	dan.fails(1, "does not exist", "", "requests", "show", id)
	if out := bob.ok("", "requests", "approve", id, "--reason", "seen the incident"); !strings.Contains(out, "1 of 2 approvals") {
		t.Fatalf("the first approval: %s", out)
	}
	bob.fails(1, "reviewed request", "", "requests", "approve", id)
	if _, err := listenerConn(pgAddr, role, db, annToken); err == nil {
		t.Fatal("one approval of two let ann connect")
	}
	out = cat.ok("", "requests", "approve", id)
	if !strings.Contains(out, "is approved: ann may use "+role) {
		t.Fatalf("the second approval: %s", out)
	}

	// Approvers heard of the request, with buttons to its page, and of
	// the decision.
	waitFor(t, "two notifications", 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(notes) >= 2 })
	mu.Lock()
	first, _ := json.Marshal(notes[0])
	second, _ := json.Marshal(notes[1])
	firstText, _ := notes[0]["text"].(string)
	mu.Unlock()
	// The requester's text cannot ping a channel or forge a link.
	if !strings.Contains(firstText, "INC-1234 &lt;!channel&gt;") || strings.Contains(firstText, "<!channel>") {
		t.Errorf("the reason is not escaped for Slack: %q", firstText)
	}
	if !strings.Contains(string(first), "ann requested "+role+" for 15s: INC-1234") || !strings.Contains(string(first), `"url":"https://stile.example.com/requests/`+id+`?action=approve"`) {
		t.Errorf("the request's notification: %s", first)
	}
	if !strings.Contains(string(second), "ann's request for "+role+" was approved") {
		t.Errorf("the decision's notification: %s", second)
	}

	// In the window: the listener (twice) and stile connect.
	conns := make([]*pgx.Conn, 0, 3)
	for range 2 {
		conn, err := listenerConn(pgAddr, role, db, annToken)
		if err != nil {
			t.Fatalf("ann through the listener in her window: %v", err)
		}
		defer conn.Close(context.Background())
		conns = append(conns, conn)
	}
	port := ann.connect(t, role, db)
	var viaConnect *pgx.Conn
	waitFor(t, "pgx through stile connect", 5*time.Second, func() bool {
		var err error
		viaConnect, err = pgx.Connect(context.Background(), fmt.Sprintf("postgres://ann@127.0.0.1:%d/%s?sslmode=disable", port, db))
		return err == nil
	})
	defer viaConnect.Close(context.Background())
	conns = append(conns, viaConnect)
	for i, conn := range conns {
		var who string
		if err := conn.QueryRow(context.Background(), "SELECT current_user").Scan(&who); err != nil || who != role {
			t.Fatalf("connection %d in the window: %q %v", i, who, err)
		}
	}
	var mine api.MyAccess
	if err := json.Unmarshal([]byte(ann.ok("", "access", "mine", "--json")), &mine); err != nil || len(mine.Roles) != 1 || mine.Roles[0].WindowEnds.IsZero() || mine.Roles[0].Standing {
		t.Fatalf("ann's access in the window: %+v %v", mine, err)
	}

	// The window ends: every connection closes within the enforcement
	// bound, the end is an access session, and she is refused again.
	for i, conn := range conns {
		waitClosed(t, conn, fmt.Sprintf("connection %d after the window", i), window+10*time.Second)
	}
	if _, err := listenerConn(pgAddr, role, db, annToken); err == nil || !strings.Contains(err.Error(), "none open") {
		t.Fatalf("ann connecting after her window: %v", err)
	}
	waitFor(t, "the window's end in the audit trail", 10*time.Second, func() bool {
		return strings.Contains(h.ok("", "sessions", "list", "--kind", "access", "--json"), "ann's window on "+role+" ended")
	})
	waitFor(t, "the three connections' sessions saying why they closed", 10*time.Second, func() bool {
		out := h.ok("", "sessions", "list", "--kind", "connect", "--json")
		return strings.Count(out, `"message": "closed by stile: ann's access window on `+role+` ended"`) == 3
	})
	requests := h.ok("", "sessions", "list", "--kind", "request", "--json")
	for _, want := range []string{"ann requested " + role + " for 15s: INC-1234", "bob approved ann's request for " + role + " (1 of 2 approvals): seen the incident", "cat approved ann's request for " + role + " (2 of 2 approvals); the window ends at"} {
		if !strings.Contains(requests, want) {
			t.Errorf("request sessions lack %q:\n%s", want, requests)
		}
	}
	if out := h.ok("", "requests", "list", "--status", "ended"); !strings.Contains(out, id) {
		t.Errorf("ended requests:\n%s", out)
	}

	// A pending request nobody decides expires, and says so.
	h.ok("", "access", "policy", role, "--pending", "1s")
	id2 := strings.Fields(ann.ok("", "access", "request", role, "--for", "5m", "--reason", "INC-2"))[1]
	waitFor(t, "the pending request's expiry", 15*time.Second, func() bool {
		return strings.Contains(h.ok("", "requests", "list", "--status", "expired"), id2)
	})
	bob.fails(1, "not pending", "", "requests", "approve", id2)
	if out := h.ok("", "sessions", "list", "--kind", "request", "--json"); !strings.Contains(out, "ann's request for "+role+" expired: 0 of 2 approvals") {
		t.Errorf("no session for the expiry:\n%s", out)
	}

	// A denial ends a request at once.
	h.ok("", "access", "policy", role, "--pending", "10m")
	id3 := strings.Fields(ann.ok("", "access", "request", role, "--for", "5m", "--reason", "INC-3"))[1]
	if out := cat.ok("", "requests", "deny", id3, "--reason", "use the read-only role"); !strings.Contains(out, "is denied") {
		t.Fatalf("deny: %s", out)
	}

	// A contractor's standing grant ends by itself while she is connected.
	until := time.Now().Add(5 * time.Second).UTC().Format(time.RFC3339)
	h.ok("", "access", "grant", role, "--group", "contractors", "--until", until)
	h.fails(1, "not in the future", "", "access", "grant", role, "--group", "contractors", "--until", "2020-01-01")
	conn, err := listenerConn(pgAddr, role, db, eve.vars["STILE_TOKEN"])
	if err != nil {
		t.Fatalf("eve before her grant ends: %v", err)
	}
	defer conn.Close(context.Background())
	waitClosed(t, conn, "eve's connection after her grant ended", 20*time.Second)
	if _, err := listenerConn(pgAddr, role, db, eve.vars["STILE_TOKEN"]); err == nil {
		t.Fatal("eve connected after her grant ended")
	}
	waitFor(t, "the grant's end in the audit trail", 10*time.Second, func() bool {
		return strings.Contains(h.ok("", "sessions", "list", "--kind", "access", "--json"), "the grant of "+role+" to group contractors ended")
	})
	if out := h.ok("", "access", "list"); strings.Contains(out, "contractors") || !strings.Contains(out, "oncall") {
		t.Fatalf("grants after the end:\n%s", out)
	}
}

// TestExpiryAcrossReplicas: two replicas share a PostgreSQL store. A
// request made on A and approved on B opens a window on both; a member
// connected through each replica's listener is closed by each when the
// window ends, and the end is recorded once, not once per replica. The
// same for a grant that ends.
func TestExpiryAcrossReplicas(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	db := p + "_app"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	storeURL := sharedStore(t, c, p)
	data := t.TempDir()
	pgA, pgB := freeAddr(t), freeAddr(t)
	a := startServerWith(t, data, map[string]string{"STILE_STORE": storeURL, "args": "--pg-listen " + pgA})
	b := startServerWith(t, data, map[string]string{"STILE_STORE": storeURL, "args": "--pg-listen " + pgB})
	res := p + "_r"
	a.addResource(res, tg)
	doc := a.ok("", "resources", "plan", res, "--role", "ro", "--scopes", db, "--privileges", "SELECT")
	a.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	role := field(doc, "role_name")
	a.ok("", "groups", "create", "oncall")
	a.ok("", "groups", "create", "contractors")
	ann := a.member("ann", "oncall")
	eve := a.member("eve", "contractors")
	a.ok("", "access", "grant", role, "--group", "oncall", "--eligible")

	// Both grant and window end a few seconds from now, together.
	id := strings.Fields(ann.ok("", "access", "request", role, "--for", "10s"))[1]
	b.ok("", "requests", "approve", id)
	until := time.Now().Add(10 * time.Second).UTC().Format(time.RFC3339)
	b.ok("", "access", "grant", role, "--group", "contractors", "--until", until)
	var conns []*pgx.Conn
	for _, addr := range []string{pgA, pgB} {
		for _, token := range []string{ann.vars["STILE_TOKEN"], eve.vars["STILE_TOKEN"]} {
			conn, err := listenerConn(addr, role, db, token)
			if err != nil {
				t.Fatalf("connecting through %s before the end: %v", addr, err)
			}
			defer conn.Close(context.Background())
			conns = append(conns, conn)
		}
	}
	for i, conn := range conns {
		waitClosed(t, conn, fmt.Sprintf("connection %d after the end", i), 25*time.Second)
	}
	// Both replicas sweep every few seconds: give them two more rounds,
	// then count the records of each end.
	time.Sleep(7 * time.Second)
	out := a.ok("", "sessions", "list", "--kind", "access", "--json")
	for _, end := range []string{`"message": "ann's window on ` + role + ` ended`, `"message": "the grant of ` + role + ` to group contractors ended`} {
		if n := strings.Count(out, end); n != 1 {
			t.Errorf("%d records of %q, want 1:\n%s", n, end, out)
		}
	}
	for _, addr := range []string{pgA, pgB} {
		if _, err := listenerConn(addr, role, db, eve.vars["STILE_TOKEN"]); err == nil {
			t.Errorf("eve connected through %s after her grant ended", addr)
		}
	}
}

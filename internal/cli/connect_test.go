package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/pgtest"
)

// TestConnect: real psql connects through `stile connect` without a
// password, runs as the resource role with only its privileges, and the
// connection is a session that lists the SQL it sent.
func TestConnect(t *testing.T) {
	psql := needPsql(t)
	var err error
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	c.Exec(t, p+"_app", "CREATE TABLE public.t (id int)", "INSERT INTO public.t VALUES (1), (2)", "CREATE TABLE public.secret (x int)")
	h := startServer(t, t.TempDir())
	res := p + "_r"
	h.addResource(res, tg)
	doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app.public", "--privileges", "SELECT")
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	c.Exec(t, p+"_app", `REVOKE SELECT ON public.secret FROM "`+field(doc, "role_name")+`"`)
	role := field(doc, "role_name")

	port := h.connect(t, role, p+"_app")
	psqlRun := func(sql string) (string, error) {
		cmd := exec.Command(psql, "-X", "-At", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "whoever", "-d", p+"_app", "-c", sql)
		cmd.Env = append(os.Environ(), "PGPASSWORD=", "PGCONNECT_TIMEOUT=5")
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	var out string
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err = psqlRun("SELECT current_user || ' ' || count(*) FROM public.t")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || out != role+" 2" {
		t.Fatalf("psql through stile connect: %v\n%s", err, out)
	}
	// Ctrl-C: the client's cancel request goes through stile connect and
	// the server to the real backend.
	conn, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://whoever@127.0.0.1:%d/%s_app?sslmode=disable", port, p))
	if err != nil {
		t.Fatalf("pgx through stile connect: %v", err)
	}
	defer conn.Close(context.Background())
	assertCancels(t, c, conn)
	if out, err := psqlRun("SELECT * FROM public.secret"); err == nil || !strings.Contains(out, "permission denied") {
		t.Fatalf("the role reached a table it does not hold: %v %s", err, out)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		out = h.ok("", "sessions", "list", "--kind", "connect", "--json")
		if strings.Count(out, `"status": "ok"`) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out, "SELECT current_user") || !strings.Contains(out, "bytes_from_client") || strings.Contains(out, tg.Password) {
		t.Fatalf("connect sessions:\n%s", out)
	}
}

// TestPGListener: the server's own PostgreSQL endpoint takes a resource role
// as the user and the API token as the password (over TLS), and refuses a
// wrong one with SQLSTATE 28P01 as a client expects.
func TestPGListener(t *testing.T) {
	psql := needPsql(t)
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	c.Exec(t, p+"_app", "CREATE TABLE public.t (id int)")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	pgAddr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	dir := t.TempDir()
	h := startServerWith(t, dir, map[string]string{"args": "--pg-listen " + pgAddr.String()})
	res := p + "_r"
	h.addResource(res, tg)
	doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app.public", "--privileges", "SELECT")
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	role := field(doc, "role_name")
	token, err := os.ReadFile(dir + "/admin.token")
	if err != nil {
		t.Fatal(err)
	}
	run := func(password, sslmode string) (string, error) {
		cmd := exec.Command(psql, "-X", "-At", "-c", "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
			fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s_app sslmode=%s connect_timeout=5", pgAddr.Port, role, p, sslmode))
		cmd.Env = append(os.Environ(), "PGPASSWORD="+password)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	out, err := run(strings.TrimSpace(string(token)), "require")
	if err != nil || !strings.HasPrefix(out, role+"|") {
		t.Fatalf("psql to the server's listener: %v\n%s", err, out)
	}
	out, err = run("wrong", "require")
	if err == nil || !strings.Contains(out, "password authentication failed") {
		t.Fatalf("a wrong token: %v\n%s", err, out)
	}
	if out := h.ok("", "sessions", "list", "--kind", "connect"); !strings.Contains(out, role) {
		t.Errorf("connect sessions:\n%s", out)
	}

	// A cancel request reaches the real server through the listener.
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s_app sslmode=require", pgAddr.Port, role, p))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = strings.TrimSpace(string(token))
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgx through the listener: %v", err)
	}
	defer conn.Close(context.Background())
	assertCancels(t, c, conn)
}

// needPsql returns psql's path; without it the test skips locally and
// fails in CI.
func needPsql(t *testing.T) string {
	t.Helper()
	psql, err := exec.LookPath("psql")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("psql is missing: make test installs postgresql-client")
		}
		t.Skip("psql is missing")
	}
	return psql
}

// psqlAs runs one statement with real psql against host:port and returns
// its unaligned output.
func psqlAs(psql, addr, user, password, database, sslmode, sql string) (string, error) {
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(psql, "-X", "-At", "-c", sql,
		fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=%s connect_timeout=5", host, port, user, database, sslmode))
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// assertCancels runs a long query on conn (a connection through stile),
// sends the client's CancelRequest as psql's Ctrl-C would, and checks the
// real server cancelled the query (SQLSTATE 57014).
func assertCancels(t *testing.T, c pgtest.Cluster, conn *pgx.Conn) {
	t.Helper()
	assertCancelsWith(t, c, conn, func() error { return conn.PgConn().CancelRequest(context.Background()) })
}

// assertCancelsWith is assertCancels with the cancel request sent by send.
func assertCancelsWith(t *testing.T, c pgtest.Cluster, conn *pgx.Conn, send func() error) {
	t.Helper()
	query := fmt.Sprintf("SELECT pg_sleep(30) -- %d", conn.PgConn().PID())
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Exec(context.Background(), query)
		errc <- err
	}()
	waitActive(t, c, query)
	if err := send(); err != nil {
		t.Fatalf("cancel request: %v", err)
	}
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "57014") {
			t.Fatalf("the cancelled query: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the cancel did not reach the server")
	}
}

// TestConnectMasked: with masking rules added by the CLI, real psql through
// `stile connect` (the WebSocket relay) sees the role's results masked.
func TestConnectMasked(t *testing.T) {
	psql := needPsql(t)
	c := pgtest.First(t)
	p := c.Prefix(t)
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_crm")
	c.Exec(t, p+"_crm", "CREATE TABLE public.people (name text, email text, ip inet)", "INSERT INTO public.people VALUES ('Ada', 'ada@example.com', '10.1.2.3')")
	h := startServer(t, t.TempDir())
	res := p + "_m"
	h.addResource(res, c.Target())
	doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_crm.public", "--privileges", "SELECT")
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	role := field(doc, "role_name")
	h.ok("", "masking", "add", role, "--id", "mail", "--column", p+"_crm.public.people.email", "--style", "partial")
	h.ok("", "masking", "add", role, "--id", "ips", "--detector", "ipv4")
	h.fails(exitFailed, "style \"blur\" is not redact, partial or hash", "", "masking", "add", role, "--detector", "email", "--style", "blur")
	if out := h.ok("", "masking", "list", role); !strings.Contains(out, "mail  "+p+"_crm.public.people.email") || !strings.Contains(out, "ips   -") {
		t.Errorf("masking list:\n%s", out)
	}

	port := h.connect(t, role, p+"_crm")
	var out []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		cmd := exec.Command(psql, "-X", "-At", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "whoever", "-d", p+"_crm", "-c", "SELECT name, email, host(ip) FROM public.people")
		cmd.Env = append(os.Environ(), "PGPASSWORD=", "PGCONNECT_TIMEOUT=5")
		if out, err = cmd.CombinedOutput(); err == nil {
			break
		}
	}
	if got := strings.TrimSpace(string(out)); err != nil || got != "Ada|a**@e******.com|****" {
		t.Fatalf("psql through stile connect with masking: %v %q", err, got)
	}

	// Strict: after the role's next apply PostgreSQL itself refuses the
	// column; the other columns still read.
	if out := h.ok("", "masking", "add", role, "--id", "strict-mail", "--column", p+"_crm.public.people.email", "--strict"); !strings.Contains(out, "next plan is applied") {
		t.Errorf("masking add --strict: %s", out)
	}
	doc = h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_crm.public", "--privileges", "SELECT")
	if !strings.Contains(doc, `GRANT SELECT ("ip", "name") ON TABLE "public"."people"`) {
		t.Fatalf("plan after a strict rule:\n%s", doc)
	}
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	psqlAs := func(sql string) (string, error) {
		cmd := exec.Command(psql, "-X", "-At", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "whoever", "-d", p+"_crm", "-c", sql)
		cmd.Env = append(os.Environ(), "PGPASSWORD=", "PGCONNECT_TIMEOUT=5")
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if got, err := psqlAs("SELECT email FROM public.people"); err == nil || !strings.Contains(got, "permission denied for table people") {
		t.Errorf("a strict column through psql: %v %q", err, got)
	}
	if got, err := psqlAs("SELECT name FROM public.people"); err != nil || got != "Ada" {
		t.Errorf("the other columns through psql: %v %q", err, got)
	}
}

// connect runs `stile connect role` to database on a free local port until
// the test ends, and returns the port.
func (h *harness) connect(t *testing.T, role, database string) int {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	h.runConnect(t, "connect", role, "--port", strconv.Itoa(port), "--database", database)
	return port
}

// runConnect runs `stile args...` (a stile connect) until the test ends, and
// returns its standard output.
func (h *harness) runConnect(t *testing.T, args ...string) *syncWriter {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	stdout := new(syncWriter)
	go func() { done <- run(ctx, args, h.env(nil, stdout, new(syncWriter))) }()
	t.Cleanup(func() { cancel(); <-done })
	return stdout
}

// TestConnectUnixSocket: stile connect --socket listens where psql looks
// for a server (DIR/.s.PGSQL.PORT), in a directory only its user may
// enter; one that others may enter is refused, and so is a socket in use.
func TestConnectUnixSocket(t *testing.T) {
	psql := needPsql(t)
	c := pgtest.First(t)
	p := c.Prefix(t)
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	h := startServer(t, t.TempDir())
	res := p + "_u"
	h.addResource(res, c.Target())
	doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app.public", "--privileges", "SELECT")
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	role := field(doc, "role_name")

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	h.fails(exitFailed, "open to other users", "", "connect", role, "--socket", open)

	dir := filepath.Join(t.TempDir(), "sock") // made 0700
	stdout := h.runConnect(t, "connect", role, "--socket", dir, "--port", "6543", "--database", p+"_app")
	var out []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		cmd := exec.Command(psql, "-X", "-At", "-h", dir, "-p", "6543", "-U", "whoever", "-d", p+"_app", "-c", "SELECT current_user")
		cmd.Env = append(os.Environ(), "PGPASSWORD=", "PGCONNECT_TIMEOUT=5")
		if out, err = cmd.CombinedOutput(); err == nil {
			break
		}
	}
	if got := strings.TrimSpace(string(out)); err != nil || got != role {
		t.Fatalf("psql through the socket: %v %q", err, got)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory: %v %v", fi.Mode(), err)
	}
	if said := strings.Join(stdout.lines(), "\n"); !strings.Contains(said, "psql -h "+dir+" -p 6543") {
		t.Errorf("connect said: %q", said)
	}
	h.fails(exitFailed, "is in use", "", "connect", role, "--socket", dir, "--port", "6543")
}

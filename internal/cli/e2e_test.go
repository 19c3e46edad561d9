package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/daemon"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/target"
)

// harness runs a real `stile server` in-process and drives the CLI against
// it, as a user would.
type harness struct {
	t    *testing.T
	dir  string
	vars map[string]string
	stop func()
}

func startServer(t *testing.T, dir string) *harness {
	t.Helper()
	return startServerWith(t, dir, nil)
}

// startServerWith starts a server with extra environment (STILE_STORE …).
func startServerWith(t *testing.T, dir string, extra map[string]string) *harness {
	t.Helper()
	addr := extra["addr"]
	if addr == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close()
	}
	h := &harness{t: t, dir: dir, vars: map[string]string{"STILE_DATA": dir, "STILE_URL": "http://" + addr}}
	for k, v := range extra {
		if k != "addr" && k != "args" {
			h.vars[k] = v
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var log bytes.Buffer
	go func() {
		args := []string{"server", "--listen", addr}
		if extra["args"] != "" {
			args = append(args, strings.Fields(extra["args"])...)
		}
		done <- run(ctx, args, h.env(nil, &bytes.Buffer{}, &syncWriter{w: &log}))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			t.Fatalf("server exited with %d:\n%s", code, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(func() {
		if h.stop != nil {
			h.stop()
		}
	})
	return h
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

// lines returns what was written so far, a line each.
func (s *syncWriter) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return []string{""}
	}
	return strings.Split(strings.TrimSpace(s.w.String()), "\n")
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		s.w = new(bytes.Buffer)
	}
	return s.w.Write(p)
}

func (h *harness) env(stdin *strings.Reader, stdout, stderr interface{ Write([]byte) (int, error) }) *env {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	return &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: func(k string) string { return h.vars[k] }, more: []Commands{daemon.Commands}}
}

// stile runs one CLI command and returns its exit code, stdout and stderr.
func (h *harness) stile(stdin string, args ...string) (int, string, string) {
	h.t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, h.env(strings.NewReader(stdin), &out, &errb))
	return code, out.String(), errb.String()
}

// ok runs a command that must succeed.
func (h *harness) ok(stdin string, args ...string) string {
	h.t.Helper()
	code, out, errOut := h.stile(stdin, args...)
	if code != 0 {
		h.t.Fatalf("stile %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fails runs a command that must exit with code and print want on stderr.
func (h *harness) fails(code int, want, stdin string, args ...string) string {
	h.t.Helper()
	got, out, errOut := h.stile(stdin, args...)
	if got != code || !strings.Contains(errOut, want) {
		h.t.Fatalf("stile %s: exit %d (want %d), stderr %q (want %q)\nstdout:\n%s", strings.Join(args, " "), got, code, errOut, want, out)
	}
	if strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
		h.t.Errorf("stderr is more than an error and a hint:\n%s", errOut)
	}
	return out
}

func (h *harness) write(name, content string) string {
	p := filepath.Join(h.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// addResource imports res, the cluster tg (sslmode disable), and sets its
// admin account for the built-in agent.
func (h *harness) addResource(res string, tg target.Target) {
	h.t.Helper()
	h.ok("", "resources", "import", h.write("inv.csv", fmt.Sprintf("name,type,host,port,sslmode\n%s,postgres,%s,%d,disable\n", res, tg.Host, tg.Port)))
	h.ok(tg.Password+"\n", "resources", "admin", "set", res, "--user", tg.User, "--password-stdin")
}

func field(doc, key string) string {
	for _, line := range strings.Split(doc, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+": "); ok {
			return v
		}
	}
	return ""
}

func TestCLIEndToEnd(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	odd := p + `_we"ird;db`
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app", `CREATE DATABASE "`+strings.ReplaceAll(odd, `"`, `""`)+`"`)
	c.Exec(t, p+"_app", "CREATE TABLE public.a (id serial primary key)", "CREATE TABLE public.b (id int)")
	c.Exec(t, odd, "CREATE TABLE public.x (id int)")
	h := startServer(t, t.TempDir())
	res := p + "_main"

	// Inventory: a bad row blocks the whole import.
	bad := h.write("bad.csv", fmt.Sprintf("name,type,host,port\n%s,PostgreSQL,%s,%d\nbroken,mysql,%s,%d\n", res, tg.Host, tg.Port, tg.Host, tg.Port))
	out := h.fails(1, "nothing was imported", "", "resources", "import", bad)
	if !strings.Contains(out, "error") || !strings.Contains(out, "new") {
		t.Errorf("import preview:\n%s", out)
	}
	if out := h.ok("", "resources", "list"); strings.Contains(out, res) {
		t.Fatalf("a failed import wrote rows:\n%s", out)
	}
	h.fails(1, "unknown column", "", "resources", "import", h.write("cols.csv", "name,type,host,port,color\nx,postgres,h,1,red\n"))
	inv := h.write("inv.csv", fmt.Sprintf("name,type,host,port,sslmode\n%s,PostgreSQL,%s,%d,disable\n%s_down,postgres,127.0.0.1,1,disable\n", res, tg.Host, tg.Port, p))
	if out := h.ok("", "resources", "import", inv, "--dry-run"); !strings.Contains(out, "dry run") {
		t.Errorf("dry run:\n%s", out)
	}
	h.ok("", "resources", "import", inv)
	if out := h.ok("", "resources", "import", inv); !strings.Contains(out, "unchanged") {
		t.Errorf("re-import:\n%s", out)
	}

	// Admin: wrong password and unreachable host store nothing.
	h.fails(1, "authentication failed", "wrong\n", "resources", "admin", "set", res, "--user", tg.User, "--password-stdin")
	start := time.Now()
	h.fails(1, "unreachable", "x\n", "resources", "admin", "set", p+"_down", "--user", "u", "--password-stdin")
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("unreachable host took %s", d)
	}
	if out := h.ok("", "resources", "list"); !strings.Contains(out, "1/3") {
		t.Errorf("list after failed admin set:\n%s", out)
	}
	h.ok(tg.Password+"\n", "resources", "admin", "set", res, "--user", tg.User, "--password-stdin")
	if out := h.ok("", "resources", "list", "--json"); strings.Contains(out, tg.Password) {
		t.Fatal("the admin password came back from the API")
	}
	if out := h.ok("", "resources", "health", res); !strings.Contains(out, "status: ok") {
		t.Errorf("health:\n%s", out)
	}
	h.fails(1, "no admin credentials", "", "resources", "health", p+"_down")

	// Plan one role, apply it, apply it again.
	scopes := p + `_app,"` + strings.ReplaceAll(odd, `"`, `""`) + `"`
	doc := h.ok("", "resources", "plan", res, "--role", "r;o", "--scopes", scopes, "--privileges", "select")
	sid := field(doc, "sid")
	if sid == "" || !strings.Contains(doc, "sql_plan_checksum:") || !strings.Contains(doc, `\connect -reuse-previous=on "dbname='`+p+`_we""ird;db'"`) {
		t.Fatalf("plan document:\n%s", doc)
	}
	if again := h.ok("", "resources", "plan", "status", sid); again != doc {
		t.Errorf("plan status differs from the plan:\n%s", again)
	}
	// Two concurrent applies of one plan: exactly one runs.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = h.stile("", "resources", "apply", res, "--sid", sid)
		}()
	}
	wg.Wait()
	if codes[0]+codes[1] != 1 {
		t.Fatalf("concurrent applies of one sid exited %v, want one 0 and one 1", codes)
	}
	h.fails(1, "already applied", "", "resources", "apply", res, "--sid", sid)

	// A batch from a file: invalid items plan nothing.
	h.fails(1, "unknown privilege", "", "resources", "plan", "-f", h.write("badplan.yaml", "items:\n  - resource_name: "+res+"\n    role: x\n    scopes: ["+p+"_app]\n    privileges: [FLY]\n"))
	h.fails(1, "not in the inventory", "", "resources", "plan", "-f", h.write("unknown.csv", "resource_name,type,role,scopes,permissions,source_role\nnope,managed,ro,db,SELECT,\n"))
	h.fails(1, "slugs like existing role", "", "resources", "plan", res, "--role", "R.O", "--scopes", p+"_app", "--privileges", "SELECT")
	csvPlan := h.write("plan.csv", "resource_name,type,role,scopes,permissions,source_role\n"+
		res+",managed,rw,"+p+"_app.public,SELECT;INSERT;UPDATE,\n"+
		res+",external,ext,,,pg_read_all_data\n")
	if out := h.ok("", "resources", "plan", "-f", csvPlan); strings.Count(out, "out-of-sync") != 2 {
		t.Errorf("CSV batch plan:\n%s", out)
	}
	yamlPlan := h.write("plan.yaml", fmt.Sprintf(`items:
  - resource_name: %[1]s
    role: rw
    scopes: [%[2]s_app.public]
    privileges: [SELECT, INSERT, UPDATE]
  - resource_name: %[1]s
    type: external
    role: ext
    source_role: pg_read_all_data
`, res, p))
	results := filepath.Join(h.dir, "result.yaml")
	out = h.ok("", "resources", "plan", "-f", yamlPlan, "-o", results)
	if !strings.Contains(out, "SID") || strings.Count(out, "out-of-sync") != 2 {
		t.Errorf("batch plan table:\n%s", out)
	}
	out = h.ok("", "resources", "apply", "-f", results)
	if strings.Count(out, "  applied  ") != 2 {
		t.Errorf("batch apply:\n%s", out)
	}
	code, _, _ := h.stile("", "resources", "plan", "-f", yamlPlan, "--detailed-exitcode")
	if code != 0 {
		t.Errorf("re-plan after apply: exit %d, want 0 (in sync)", code)
	}

	// Drift between plan and apply is refused and nothing runs.
	doc = h.ok("", "resources", "plan", res, "--role", "rw", "--scopes", p+"_app.public", "--privileges", "SELECT,INSERT,UPDATE", "--rotate-password")
	c.Exec(t, p+"_app", `GRANT DELETE ON public.a TO "`+field(doc, "role_name")+`"`)
	h.fails(3, "apply refused for drift: the cluster changed since the plan", "", "resources", "apply", res, "--sid", field(doc, "sid"))
	code, _, _ = h.stile("", "resources", "plan", res, "--role", "rw", "--scopes", p+"_app.public", "--privileges", "SELECT,INSERT,UPDATE", "--detailed-exitcode")
	if code != 2 {
		t.Errorf("plan after drift: exit %d, want 2", code)
	}

	// Sessions.
	out = h.ok("", "sessions", "list", "--kind", "apply")
	if strings.Count(out, "applied") < 3 || !strings.Contains(out, "drift") {
		t.Errorf("apply sessions:\n%s", out)
	}
	if out := h.ok("", "sessions", "show", sid); !strings.Contains(out, "GRANT") || !strings.Contains(out, "exit_code: 0") {
		t.Errorf("session show:\n%s", out)
	}
	for _, s := range []string{h.ok("", "sessions", "list", "--json")} {
		if strings.Contains(s, tg.Password) {
			t.Fatal("a session holds the admin password")
		}
	}

	// A restart keeps everything committed.
	h.stop()
	h.stop = nil
	h2 := startServer(t, h.dir)
	if out := h2.ok("", "sessions", "show", sid); !strings.Contains(out, "status: out-of-sync") {
		t.Errorf("after restart:\n%s", out)
	}
	if out := h2.ok("", "resources", "list"); !strings.Contains(out, "3/3") {
		t.Errorf("list after restart:\n%s", out)
	}
}

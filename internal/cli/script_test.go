package cli

import (
	"context"
	"database/sql"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/stile-dev/stile/internal/daemon"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/spec"
)

// TestMain lets the scripts in testdata/script run `stile` as a command of
// this test binary (testscript), the same code as the real one.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"stile": func() {
			os.Exit(Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, daemon.Commands))
		},
	})
}

// TestScripts runs the CLI scenarios in testdata/script/*.txtar: each is a
// command line, its exit code and what it prints. They need no server: a
// dead URL ($DEAD_URL) stands for none; $BUSY_ADDR is an address taken.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("STILE_DATA", env.WorkDir+"/data")
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			env.Setenv("DEAD_URL", "http://"+ln.Addr().String())
			ln.Close()
			busy, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			env.Defer(func() { busy.Close() })
			env.Setenv("BUSY_ADDR", busy.Addr().String())
			env.Setenv("TODAY", time.Now().UTC().Format("2006-01-02"))
			return nil
		},
	})
}

// TestServerScripts runs the scenarios in testdata/server/*.txtar against
// a server of their own and a real cluster: $RES is a resource managed by
// the cluster's superuser, $DB a database with table public.t, $ROLE_RO the
// name role ro of $RES gets; $PG_HOST, $PG_PORT, $PG_USER and the file
// admin.password reach the cluster. Besides exec, scripts have:
//
//	stile-exit N ARGS...  run stile ARGS and require exit code N
//	sql DB STATEMENT      run one statement on the cluster as its superuser
//	expand FILE...        replace $VARS in the files with their values
//	store-sql STATEMENT   run one statement on the server's SQLite store,
//	                      behind its back
func TestServerScripts(t *testing.T) {
	c := pgtest.First(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/server",
		Setup: func(env *testscript.Env) error {
			p := c.Prefix(t)
			c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
			c.Exec(t, p+"_app", "CREATE TABLE public.t (id int)")
			h := startServer(t, t.TempDir())
			res := p + "_db"
			h.addResource(res, c.Target())
			name, err := spec.RoleName("stile", res, "ro")
			if err != nil {
				return err
			}
			tg := c.Target()
			if err := os.WriteFile(filepath.Join(env.WorkDir, "admin.password"), []byte(tg.Password+"\n"), 0o600); err != nil {
				return err
			}
			for k, v := range map[string]string{"STILE_URL": h.vars["STILE_URL"], "STILE_DATA": h.vars["STILE_DATA"], "RES": res, "DB": p + "_app", "ROLE_RO": name,
				"PG_HOST": tg.Host, "PG_PORT": strconv.Itoa(tg.Port), "PG_USER": tg.User} {
				env.Setenv(k, v)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"stile-exit": func(ts *testscript.TestScript, neg bool, args []string) {
				want, err := strconv.Atoi(args[0])
				if err != nil || neg {
					ts.Fatalf("usage: stile-exit N ARGS...")
				}
				cmd := exec.Command("stile", args[1:]...)
				cmd.Dir = ts.MkAbs(".")
				cmd.Stdout, cmd.Stderr = ts.Stdout(), ts.Stderr()
				for _, k := range []string{"PATH", "HOME", "STILE_URL", "STILE_DATA", "STILE_TOKEN"} {
					cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
				}
				code := 0
				if err := cmd.Run(); err != nil {
					ee, ok := err.(*exec.ExitError)
					if !ok {
						ts.Fatalf("stile: %v", err)
					}
					code = ee.ExitCode()
				}
				if code != want {
					ts.Fatalf("stile %s: exit %d, want %d", strings.Join(args[1:], " "), code, want)
				}
			},
			"expand": func(ts *testscript.TestScript, neg bool, args []string) {
				for _, f := range args {
					path := ts.MkAbs(f)
					data, err := os.ReadFile(path)
					ts.Check(err)
					ts.Check(os.WriteFile(path, []byte(os.Expand(string(data), ts.Getenv)), 0o600))
				}
			},
			"store-sql": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 || neg {
					ts.Fatalf("usage: store-sql STATEMENT")
				}
				db, err := sql.Open("sqlite", filepath.Join(ts.Getenv("STILE_DATA"), "stile.db")+"?_pragma=busy_timeout(5000)")
				ts.Check(err)
				defer db.Close()
				res, err := db.Exec(args[0])
				ts.Check(err)
				if n, _ := res.RowsAffected(); n == 0 {
					ts.Fatalf("store-sql: no row changed")
				}
			},
			"sql": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 || neg {
					ts.Fatalf("usage: sql DB STATEMENT")
				}
				conn, err := c.Target().Connect(context.Background(), args[0])
				ts.Check(err)
				defer conn.Close(context.Background())
				_, err = conn.Exec(context.Background(), args[1])
				ts.Check(err)
			},
		},
	})
}

package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"log/slog"
	"net/http/httptest"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/server"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/sqlite"
)

// BenchmarkPages renders the main pages of a fleet of 500 resources with
// 2,000 roles (and their 2,000 plan sessions) and 301 users from the SQLite
// store.
func BenchmarkPages(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "stile.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var rs []spec.Resource
	for i := range 500 {
		// Loopback only, on a closed port: the resource page's scope picker
		// tries to connect and must fail at once without leaving the machine.
		rs = append(rs, spec.Resource{Name: fmt.Sprintf("db-%03d", i), Type: "postgres", Host: "127.0.0.1", Port: 1, Database: "postgres", SSLMode: "disable"})
	}
	if err := st.UpsertResources(ctx, rs, "local"); err != nil {
		b.Fatal(err)
	}
	st.CreateUser(ctx, store.User{Name: "mia", CreatedAt: time.Now()})
	st.CreateGroup(ctx, "members")
	st.SetMember(ctx, "members", "mia", true)
	st.CreateToken(ctx, store.Token{ID: "t-mia", User: "mia", Hash: secret.TokenHash("stlp_mia"), CreatedAt: time.Now()})
	for i := range 300 { // People: 300 more users with two tokens each
		name := fmt.Sprintf("user-%03d", i)
		st.CreateUser(ctx, store.User{Name: name, CreatedAt: time.Now()})
		for k := range 2 {
			st.CreateToken(ctx, store.Token{ID: fmt.Sprintf("t-%d-%d", i, k), User: name, Hash: fmt.Sprintf("h-%d-%d", i, k), CreatedAt: time.Now()})
		}
	}
	for i, name := range benchRoles(b, st, rs, 2000) {
		if i%500 < 400 {
			st.SetAdmin(ctx, rs[i%500].Name, "postgres", "sealed", "local")
		}
		// One in 40 granted to the members' group.
		if i%40 == 0 {
			if err := st.PutGrant(ctx, store.Grant{Role: name, Group: "members"}); err != nil {
				b.Fatal(err)
			}
		}
	}

	srv, c := benchServer(b, st)
	member := signedIn(b, srv.URL, "stlp_mia")
	for _, page := range []string{"/inventory", "/inventory?page=10", "/manage", "/provision", "/sessions", "/resources/db-042", "/roles", "/people", "member /roles", "member /roles/stile_db-000_r0"} {
		c, path := c, page
		if p, ok := strings.CutPrefix(page, "member "); ok {
			c, path = member, p
		}
		b.Run(page, func(b *testing.B) {
			for b.Loop() {
				resp, err := c.Get(srv.URL + path)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("%s: %v %v", page, err, resp.Status)
				}
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkUsagePage renders the Usage page (and a role's page with its
// usage) over 2,000 applied roles, 200 users and 1,000,000 connections
// spread over 90 days, each recorded as the server records one: a connect
// session created, then finished with its usage. The page reads the usage
// records kept as connections finish, never the sessions; the setup's time
// is reported as well (the store's write cost per connection).
func BenchmarkUsagePage(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "stile.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const roles, users, batch = 2000, 200, 10_000
	conns := 1_000_000
	if n, err := strconv.Atoi(os.Getenv("STILE_BENCH_CONNECTIONS")); err == nil && n > 0 {
		conns = n // a quicker look while profiling
	}
	var rs []spec.Resource
	for i := range 500 {
		rs = append(rs, spec.Resource{Name: fmt.Sprintf("db-%03d", i), Type: "postgres", Host: "127.0.0.1", Port: 1, Database: "postgres", SSLMode: "disable"})
	}
	if err := st.UpsertResources(ctx, rs, "local"); err != nil {
		b.Fatal(err)
	}
	names := benchRoles(b, st, rs, roles)
	for g := range 20 { // 20 groups of 10 users, each granted 100 roles
		group := fmt.Sprintf("team-%02d", g)
		st.CreateGroup(ctx, group)
		for u := range users / 20 {
			name := fmt.Sprintf("user-%03d", g*10+u)
			st.CreateUser(ctx, store.User{Name: name, CreatedAt: time.Now()})
			st.SetMember(ctx, group, name, true)
		}
		for r := range 100 {
			st.PutGrant(ctx, store.Grant{Role: names[(g*100+r)%roles], Group: group})
		}
	}
	// A role is used by its team; the last tenth of each team's roles is
	// never used, so the unused lists are long too.
	start := time.Now()
	now := time.Now().UTC()
	for n := 0; n < conns; n += batch {
		running := make([]store.Session, batch)
		done := make([]store.ConnectionUsage, batch)
		for i := range batch {
			k := n + i
			g := k % 20
			opened := now.Add(-time.Duration(k%(90*24)) * time.Hour).Add(-time.Duration(k%3600) * time.Second)
			s := store.Session{SID: fmt.Sprintf("c-%07d", k), Kind: store.KindConnect, Resource: rs[0].Name, Role: names[(g*100+k%90)%roles],
				Actor: fmt.Sprintf("user-%03d", g*10+k%10), CreatedAt: opened, Status: "running", Input: "{}"}
			running[i] = s
			s.Status, s.FinishedAt, s.Output = "ok", opened.Add(5*time.Minute), "duration: 5m0s\nbytes_from_client: 1200\nbytes_to_client: 48000\nexecuted: 12\nstatements:\n"
			done[i] = store.ConnectionUsage{Session: s, Usage: store.Usage{Connections: 1, Seconds: 300, BytesIn: 1200, BytesOut: 48000, Statements: 12}}
		}
		if err := st.CreateSessions(ctx, running...); err != nil {
			b.Fatal(err)
		}
		if err := st.FinishConnections(ctx, done...); err != nil {
			b.Fatal(err)
		}
	}
	// A parent benchmark's metrics are not printed: log the setup's cost.
	setup := time.Since(start)
	b.Logf("recorded %d connections in %s: %.0f µs each (create the session, finish it with its usage, chain it)",
		conns, setup.Round(time.Second), float64(setup.Microseconds())/float64(conns))

	srv, c := benchServer(b, st)
	for _, page := range []string{"/usage", "/usage?days=90", "/usage?days=7&user=user-007", "/roles/" + names[5], "/api/v1/usage"} {
		b.Run(page, func(b *testing.B) {
			for b.Loop() {
				req, _ := http.NewRequest("GET", srv.URL+page, nil)
				if strings.HasPrefix(page, "/api/") {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := c.Do(req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("%s: %v %v", page, err, resp.Status)
				}
				resp.Body.Close()
			}
		})
	}
}

// benchRoles plans and applies n roles over the resources rs (a plan
// session each, its password promoted) and returns their names.
func benchRoles(b *testing.B, st store.Store, rs []spec.Resource, n int) []string {
	ctx := context.Background()
	names := make([]string, n)
	for i := range n {
		res, label := rs[i%len(rs)].Name, fmt.Sprintf("r%d", i/len(rs))
		names[i] = "stile_" + res + "_" + label
		sess := store.Session{SID: fmt.Sprintf("s-%04d", i), Kind: store.KindPlan, Resource: res, Role: names[i], Actor: "bench", CreatedAt: time.Now().UTC(), Status: "running", Input: "{}"}
		st.CreateSessions(ctx, sess)
		sess.Status, sess.FinishedAt = "out-of-sync", time.Now().UTC()
		if err := st.FinishPlans(ctx, store.PlanFinish{Session: sess, Role: &store.Role{Resource: res, Label: label, RoleName: names[i], Spec: spec.Role{Resource: res, Label: label, Type: "managed", Scopes: []string{"app"}, Privileges: []string{"SELECT"}}}}); err != nil {
			b.Fatal(err)
		}
		st.SetPendingPassword(ctx, res, label, "sealed")
		if err := st.ResolvePending(ctx, res, label, store.PromotePending); err != nil {
			b.Fatal(err)
		}
	}
	return names
}

// benchServer serves st as the server does and returns it with a client
// signed in with the admin token.
func benchServer(b *testing.B, st store.Store) (*httptest.Server, *http.Client) {
	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	svc, err := service.New(context.Background(), service.Config{Store: st, Box: box, Agents: []agent.Agent{runner.Local{}}, RolePrefix: "stile", AdminToken: token})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(server.New(svc, slog.New(slog.DiscardHandler), nil))
	b.Cleanup(srv.Close)
	return srv, signedIn(b, srv.URL, token)
}

// signedIn is a client signed in to the web app at base with tok.
func signedIn(b *testing.B, base, tok string) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if resp, err := c.PostForm(base+"/login", url.Values{"token": {tok}}); err != nil || resp.StatusCode != 200 {
		b.Fatalf("sign in: %v", err)
	}
	return c
}

package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"log/slog"
	"net/http/httptest"

	"github.com/stile-dev/stile/internal/agent"
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
	st.CreateToken(ctx, store.Token{ID: "t-mia", User: "mia", Hash: agent.TokenHash("stlp_mia"), CreatedAt: time.Now()})
	for i := range 300 { // People: 300 more users with two tokens each
		name := fmt.Sprintf("user-%03d", i)
		st.CreateUser(ctx, store.User{Name: name, CreatedAt: time.Now()})
		for k := range 2 {
			st.CreateToken(ctx, store.Token{ID: fmt.Sprintf("t-%d-%d", i, k), User: name, Hash: fmt.Sprintf("h-%d-%d", i, k), CreatedAt: time.Now()})
		}
	}
	for i := range 2000 {
		res := rs[i%500].Name
		if i%500 < 400 {
			st.SetAdmin(ctx, res, "postgres", "sealed", "local")
		}
		label := fmt.Sprintf("r%d", i/500)
		sess := store.Session{SID: fmt.Sprintf("s-%04d", i), Kind: store.KindPlan, Resource: res, Role: "stile_" + res + "_" + label, Actor: "bench", CreatedAt: time.Now().UTC(), Status: "running", Input: "{}"}
		st.CreateSessions(ctx, sess)
		sess.Status, sess.FinishedAt = "out-of-sync", time.Now().UTC()
		if err := st.FinishPlans(ctx, store.PlanFinish{Session: sess, Role: &store.Role{Resource: res, Label: label, RoleName: sess.Role, Spec: spec.Role{Resource: res, Label: label, Type: "managed", Scopes: []string{"app"}, Privileges: []string{"SELECT"}}}}); err != nil {
			b.Fatal(err)
		}
		// Applied: a resource role, one in 40 granted to the members' group.
		st.SetPendingPassword(ctx, res, label, "sealed")
		if err := st.ResolvePending(ctx, res, label, store.PromotePending); err != nil {
			b.Fatal(err)
		}
		if i%40 == 0 {
			if err := st.SetAccess(ctx, sess.Role, "members", true); err != nil {
				b.Fatal(err)
			}
		}
	}

	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	svc, err := service.New(ctx, service.Config{Store: st, Box: box, Agents: []agent.Agent{agent.Local{}}, RolePrefix: "stile", AdminToken: token})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(server.New(svc, slog.New(slog.DiscardHandler), nil))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if resp, err := c.PostForm(srv.URL+"/login", url.Values{"token": {token}}); err != nil || resp.StatusCode != 200 {
		b.Fatalf("sign in: %v", err)
	}
	mjar, _ := cookiejar.New(nil)
	member := &http.Client{Jar: mjar}
	if resp, err := member.PostForm(srv.URL+"/login", url.Values{"token": {"stlp_mia"}}); err != nil || resp.StatusCode != 200 {
		b.Fatalf("member sign in: %v", err)
	}
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

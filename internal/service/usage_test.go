package service

import (
	"context"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// TestUsage: a connection's use is counted for its role, its user and the
// fleet on the day it opened; a role applied before the window and never
// used is listed unused, and so is the grant no member used.
func TestUsage(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_a")
	svc := serviceWithResource(t, p, c.Target())
	ctx := context.Background()
	ro := applyRole(t, svc, spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_a"}, Privileges: []string{"SELECT"}})
	rw := applyRole(t, svc, spec.Role{Resource: p, Label: "rw", Scopes: []string{p + "_a"}, Privileges: []string{"SELECT"}})
	for _, step := range []error{
		svc.Access.CreateUser(ctx, Principal{User: "admin", Admin: true}, "ann", false), svc.Access.CreateUser(ctx, Principal{User: "admin", Admin: true}, "bob", false),
		svc.Access.CreateGroup(ctx, Principal{User: "admin", Admin: true}, "readers"), svc.Access.CreateGroup(ctx, Principal{User: "admin", Admin: true}, "writers"),
		svc.Access.SetMember(ctx, Principal{User: "admin", Admin: true}, "readers", "ann", true), svc.Access.SetMember(ctx, Principal{User: "admin", Admin: true}, "writers", "bob", true),
		svc.Access.SetAccess(ctx, Principal{User: "admin", Admin: true}, ro, "readers", true), svc.Access.SetAccess(ctx, Principal{User: "admin", Admin: true}, rw, "writers", true),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	// Forty days on, ann connects to ro for two minutes.
	later := time.Now().UTC().Add(40 * 24 * time.Hour)
	svc.Reporting.now = func() time.Time { return later }
	conn, err := svc.Connections.Connect(ctx, Principal{User: "ann"}, ro, p+"_a")
	if err != nil {
		t.Fatal(err)
	}
	svc.Reporting.now = func() time.Time { return later.Add(2 * time.Minute) }
	svc.Connections.Finish(ctx, conn, proxy.Stats{BytesIn: 100, BytesOut: 2000, Executed: 7, Statements: []string{"SELECT 1"}})

	rep, err := svc.Reporting.Usage(ctx, Admin, 30)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Usage{Connections: 1, Seconds: 120, BytesIn: 100, BytesOut: 2000, Statements: 7}
	if rep.Total != want || len(rep.Daily) != 30 || rep.Daily[29]+rep.Daily[28] != 1 {
		t.Errorf("fleet: total %+v, daily %v; want %+v on the last day", rep.Total, rep.Daily, want)
	}
	if len(rep.Roles) != 1 || rep.Roles[0].Role != ro || rep.Roles[0].Usage != want || rep.Roles[0].Resource != p || rep.Roles[0].Label != "ro" {
		t.Errorf("roles used = %+v", rep.Roles)
	}
	if len(rep.Unused) != 1 || rep.Unused[0].Role != rw || !rep.Unused[0].LastUsed.IsZero() || len(rep.Unused[0].Groups) != 1 {
		t.Errorf("unused = %+v, want rw, never used, granted to writers", rep.Unused)
	}
	if len(rep.UnusedGrants) != 1 || rep.UnusedGrants[0].Role != rw || rep.UnusedGrants[0].Group != "writers" || rep.UnusedGrants[0].Members != 1 {
		t.Errorf("unused grants = %+v, want writers' use of rw", rep.UnusedGrants)
	}
	// Nothing is unused in a window shorter than the roles' life... and
	// a role applied within the window is too young to be unused.
	svc.Reporting.now = time.Now().UTC
	if rep, err := svc.Reporting.Usage(ctx, Admin, 7); err != nil || len(rep.Unused) != 0 {
		t.Errorf("today, unused = %+v, %v; want none (the roles are new)", rep.Unused, err)
	}
	svc.Reporting.now = func() time.Time { return later.Add(2 * time.Minute) }

	u, err := svc.Reporting.SubjectUsage(ctx, Admin, store.UsageRole, ro, 30)
	if err != nil {
		t.Fatal(err)
	}
	if u.Usage != want || u.Total != want || len(u.Daily) != 30 || len(u.LastUses) != 1 || u.LastUses[0].User != "ann" || !u.LastUses[0].LastUsed.Equal(later.Add(2*time.Minute)) {
		t.Errorf("ro's usage = %+v", u)
	}
	if u, err := svc.Reporting.SubjectUsage(ctx, Admin, store.UsageUser, "ann", 7); err != nil || u.Usage != want || len(u.LastUses) != 1 || u.LastUses[0].Role != ro {
		t.Errorf("ann's usage = %+v, %v", u, err)
	}
	if _, err := svc.Reporting.Usage(ctx, Admin, 91); !errs.Is(err, errs.Invalid) {
		t.Errorf("a 91-day window: %v, want invalid", err)
	}
	// The access review: each role's declaration and state, who granted
	// which group, and each person's last use.
	review, err := svc.Reporting.AccessReport(ctx, Principal{User: "auditor", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(review.Roles) != 2 || review.GeneratedBy != "auditor" || len(review.Administrators) != 1 {
		t.Fatalf("review = %+v", review)
	}
	r0 := review.Roles[0]
	if r0.Role != ro || r0.Status != "applied" || r0.AppliedBy != "test" || r0.ApplySID == "" || len(r0.Scopes) != 1 || r0.Privileges[0] != "SELECT" {
		t.Errorf("ro in the review = %+v", r0)
	}
	if len(r0.Groups) != 1 || r0.Groups[0].Group != "readers" || r0.Groups[0].GrantedBy != "admin" || r0.Groups[0].GrantedAt.IsZero() {
		t.Errorf("ro's groups = %+v", r0.Groups)
	}
	if len(r0.Users) != 1 || r0.Users[0].User != "ann" || r0.Users[0].Connections != 1 || r0.Users[0].Via[0] != "readers" || r0.Users[0].LastUsed.IsZero() {
		t.Errorf("ro's users = %+v", r0.Users)
	}
	if r1 := review.Roles[1]; len(r1.Users) != 1 || r1.Users[0].User != "bob" || !r1.Users[0].LastUsed.IsZero() {
		t.Errorf("rw's users = %+v", r1.Users)
	}
	rows := review.Rows()
	if len(rows) != 2 || len(rows[0]) != len(AccessReportCSVHeader) || rows[0][12] != "ann" || rows[0][15] != "readers:admin" || rows[1][16] != "" {
		t.Errorf("CSV rows = %q", rows)
	}

	// The session's summary says the same, for connections from before
	// usage was kept.
	sess, err := svc.Reporting.Session(ctx, Admin, conn.sess.SID)
	if err != nil {
		t.Fatal(err)
	}
	if got := usageOf(sess); got != want {
		t.Errorf("usage read from the session = %+v, want %+v\n%s", got, want, sess.Output)
	}
}

// TestCatchUpUsage: a store's connections from before usage was kept are
// counted once, from their sessions' summaries.
func TestCatchUpUsage(t *testing.T) {
	svc, err := newService(t, t.TempDir(), "stile", runner.Local{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opened := time.Now().UTC().Add(-3 * 24 * time.Hour)
	old := store.Session{SID: "old", Kind: KindConnect, Role: "stile_a_ro", Actor: "ann", CreatedAt: opened, FinishedAt: opened.Add(90 * time.Second), Status: "ok",
		Output: "duration: 1m30s\nbytes_from_client: 10\nbytes_to_client: 20\nstatements:\n  - \"SELECT 1\"\n  - \"SELECT 2\"\n"}
	if err := svc.Reporting.store.CreateSessions(ctx, old); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := svc.Reporting.CatchUpUsage(ctx); err != nil {
			t.Fatal(err)
		}
	}
	u, err := svc.Reporting.SubjectUsage(ctx, Admin, store.UsageUser, "ann", 7)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Usage{Connections: 1, Seconds: 90, BytesIn: 10, BytesOut: 20, Statements: 2}); u.Usage != want || u.Total != want {
		t.Errorf("ann's usage = %+v / %+v, want %+v once", u.Usage, u.Total, want)
	}
}

// Package storetest is the conformance suite every store.Store backend must
// pass.
package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// Run runs the suite; open returns a fresh, empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Meta", testMeta}, {"Resources", testResources}, {"PlanAndRoles", testPlanAndRoles},
		{"PlanBatch", testPlanBatch}, {"Leases", testLeases}, {"ClaimPlan", testClaimPlan}, {"Declaration", testDeclaration}, {"Passwords", testPasswords}, {"Sessions", testSessions},
		{"FailRunning", testFailRunning}, {"Agents", testAgents}, {"Jobs", testJobs}, {"WebSessions", testWebSessions}, {"CancelRoutes", testCancelRoutes}, {"People", testPeople}, {"Approvals", testApprovals}, {"Grants", testGrants}, {"Requests", testRequests}, {"Rotations", testRotations}, {"Campaigns", testCampaigns},
		{"Usage", testUsage}, {"Addresses", testAddresses}, {"Identity", testIdentity}, {"Logins", testLogins}, {"Masking", testMasking}, {"Guardrails", testGuardrails},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
	t.Run("DumpLoad", func(t *testing.T) { testDumpLoad(t, open) })
}

// testDumpLoad copies a store whole into an empty one, secrets included.
func testDumpLoad(t *testing.T, open func(t *testing.T) store.Store) {
	src, ok := open(t).(store.Dumper)
	if !ok {
		t.Skip("this store cannot be dumped")
	}
	s := src.(store.Store)
	_, err := s.SetMetaOnce(ctx, "role_prefix", "acme")
	must(t, err)
	must(t, s.UpsertResources(ctx, []spec.Resource{resource("a", "h")}, "local"))
	must(t, s.SetAdmin(ctx, "a", "admin", "sealed-admin", "local"))
	finishPlan(t, s, "p1", "a", "out-of-sync")
	must(t, s.SetPendingPassword(ctx, "a", "ro", "sealed-pending"))
	must(t, s.CreateAgent(ctx, "edge", "hash-edge"))
	must(t, s.CreateUser(ctx, store.User{Name: "ann", CreatedAt: time.Now().UTC()}))
	must(t, s.CreateToken(ctx, store.Token{ID: "k1", User: "ann", Hash: "hash-ann", CreatedAt: time.Now().UTC()}))
	must(t, s.CreateGroup(ctx, "g"))
	must(t, s.SetMember(ctx, "g", "ann", true))
	must(t, s.PutGrant(ctx, store.Grant{Role: "stile_a_ro", Group: "g", Eligible: true, Until: time.Now().Add(time.Hour).UTC()}))
	must(t, s.SetPolicy(ctx, store.AccessPolicy{Role: "stile_a_ro", MaxSeconds: 60, Approvers: []string{"g"}, Approvals: 2, PendingSeconds: 60}))
	must(t, s.CreateRequest(ctx, store.AccessRequest{ID: "q1", Role: "stile_a_ro", User: "ann", Seconds: 60, Status: store.RequestPending, Approvals: 2, Reviews: []store.Review{{User: "bob", Approve: true}}, CreatedAt: time.Now().UTC(), ExpiresAt: time.Now().UTC()}, store.Session{SID: "q1-made", Kind: "request", CreatedAt: time.Now().UTC(), FinishedAt: time.Now().UTC(), Status: "pending"}))
	must(t, s.SetApprovalRequired(ctx, "stile_a_ro", true))
	must(t, s.PutRotation(ctx, store.Rotation{Role: "stile_a_ro", EverySeconds: 86400, SetBy: "admin", SetAt: time.Now().UTC()}))
	must(t, s.CreateApproval(ctx, store.Approval{ID: "ap1", Role: "stile_a_ro", User: "ann", Database: "d", Status: "pending", CreatedAt: time.Now().UTC()}))
	must(t, s.DecideApproval(ctx, "ap1", "pending", "denied", "admin"))
	d, err := src.Dump(ctx)
	must(t, err)
	dst := open(t)
	must(t, dst.(store.Dumper).Load(ctx, d))
	wantCode(t, dst.(store.Dumper).Load(ctx, d), errs.Conflict)
	if v, _ := dst.SetMetaOnce(ctx, "role_prefix", "other"); v != "acme" {
		t.Errorf("meta after load: %q", v)
	}
	r, err := dst.Resource(ctx, "a")
	must(t, err)
	if r.AdminSecret != "sealed-admin" || r.AdminUser != "admin" {
		t.Errorf("resource after load: %+v", r)
	}
	role, err := dst.Role(ctx, "a", "ro")
	must(t, err)
	if role.PasswordPending != "sealed-pending" || role.LastPlanSID != "p1" || role.Spec.Label != "ro" {
		t.Errorf("role after load: %+v", role)
	}
	if a, err := dst.AgentByToken(ctx, "hash-edge"); err != nil || a.Name != "edge" {
		t.Errorf("agent after load: %+v %v", a, err)
	}
	if u, err := dst.TokenUser(ctx, "hash-ann"); err != nil || u.Name != "ann" {
		t.Errorf("token after load: %+v %v", u, err)
	}
	if a, _ := dst.Grants(ctx); len(a) != 1 || !a[0].Eligible || a[0].Until.IsZero() {
		t.Errorf("access after load: %+v", a)
	}
	if r, _ := dst.Rotations(ctx); len(r) != 1 || r[0].EverySeconds != 86400 {
		t.Errorf("rotations after load: %+v", r)
	}
	if p, err := dst.Policy(ctx, "stile_a_ro"); err != nil || p.Approvals != 2 || p.Approvers[0] != "g" {
		t.Errorf("policy after load: %+v %v", p, err)
	}
	if r, err := dst.Request(ctx, "q1"); err != nil || len(r.Reviews) != 1 || r.Reviews[0].User != "bob" {
		t.Errorf("request after load: %+v %v", r, err)
	}
	if g, _ := dst.Groups(ctx); len(g["g"]) != 1 {
		t.Errorf("groups after load: %v", g)
	}
	// A role that needs approval must still need it after a migration.
	if need, err := dst.ApprovalRequired(ctx, "stile_a_ro"); err != nil || !need {
		t.Errorf("approval required after load: %v %v", need, err)
	}
	if a, err := dst.Approval(ctx, "ap1"); err != nil || a.Status != "denied" || a.DecidedBy != "admin" || a.User != "ann" {
		t.Errorf("approval after load: %+v %v", a, err)
	}
	sess, err := dst.Session(ctx, "p1")
	must(t, err)
	if sess.Status != "out-of-sync" || sess.Output != "doc" {
		t.Errorf("session after load: %+v", sess)
	}
}

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	if errs.CodeOf(err) != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func testMeta(t *testing.T, s store.Store) {
	v, err := s.SetMetaOnce(ctx, "role_prefix", "stile")
	must(t, err)
	if v != "stile" {
		t.Fatalf("first value = %q", v)
	}
	v, err = s.SetMetaOnce(ctx, "role_prefix", "other")
	must(t, err)
	if v != "stile" {
		t.Fatalf("a second SetMetaOnce changed the value to %q", v)
	}
	if v, err := s.Meta(ctx, "role_prefix"); err != nil || v != "stile" {
		t.Fatalf("Meta = %q, %v; want the stored value", v, err)
	}
	if v, err := s.Meta(ctx, "no such key"); err != nil || v != "" {
		t.Fatalf("Meta of a missing key = %q, %v; want \"\", nil", v, err)
	}
}

func resource(name, host string) spec.Resource {
	return spec.Resource{Name: name, Type: "postgres", Host: host, Port: 5432, Database: "postgres", SSLMode: "prefer"}
}

func testResources(t *testing.T, s store.Store) {
	_, err := s.Resource(ctx, "nope")
	wantCode(t, err, errs.NotFound)
	wantCode(t, s.SetAdmin(ctx, "nope", "u", "sealed", "local"), errs.NotFound)

	must(t, s.UpsertResources(ctx, []spec.Resource{resource("b", "h1"), resource("a", "h1")}, "local"))
	must(t, s.SetAdmin(ctx, "a", "admin", "sealed-pw", "edge"))
	must(t, s.UpsertResources(ctx, []spec.Resource{resource("a", "h2")}, "local"))
	a, err := s.Resource(ctx, "a")
	must(t, err)
	if a.Host != "h2" || a.AdminUser != "admin" || a.AdminSecret != "sealed-pw" || a.Agent != "edge" {
		t.Errorf("upsert lost or kept the wrong fields: %+v", a)
	}
	list, err := s.Resources(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" {
		t.Errorf("Resources = %+v, want a, b", list)
	}
	must(t, s.DeleteResource(ctx, "b"))
	wantCode(t, s.DeleteResource(ctx, "b"), errs.NotFound)
	if list, _ := s.Resources(ctx); len(list) != 1 {
		t.Errorf("after delete: %+v", list)
	}
}

func planSession(sid, resource, status string) store.Session {
	return store.Session{SID: sid, Kind: store.KindPlan, Resource: resource, Role: "r_" + sid, Label: "ro", Actor: "admin", CreatedAt: time.Now().UTC(), Status: "running", Input: "{}"}
}

func finishPlan(t *testing.T, s store.Store, sid, resource, status string) {
	t.Helper()
	sess := planSession(sid, resource, status)
	must(t, s.CreateSessions(ctx, sess))
	sess.Status, sess.FinishedAt, sess.Output, sess.Checksum = status, time.Now().UTC(), "doc", "sum"
	must(t, s.FinishPlans(ctx, store.PlanFinish{Session: sess, Role: &store.Role{Resource: resource, Label: "ro", RoleName: "stile_" + resource + "_ro", Spec: spec.Role{Resource: resource, Label: "ro", Type: "managed"}}}))
}

// testPlanBatch: a batch's plan sessions are created in one call and
// finished in one; a finish without a role (a retirement's plan) leaves
// the roles alone, and one whose role's resource is gone fails the whole
// call, finishing none.
func testPlanBatch(t *testing.T, s store.Store) {
	must(t, s.UpsertResources(ctx, []spec.Resource{resource("a", "h")}, "local"))
	one, two, three := planSession("b1", "a", ""), planSession("b2", "a", ""), planSession("b3", "gone", "")
	one.Label, two.Label, three.Label = "one", "two", "three"
	must(t, s.CreateSessions(ctx, one, two, three))
	role := func(res, label string) *store.Role {
		return &store.Role{Resource: res, Label: label, RoleName: "stile_" + res + "_" + label, Spec: spec.Role{Resource: res, Label: label, Type: "managed"}}
	}
	for _, sess := range []*store.Session{&one, &two, &three} {
		sess.Status, sess.FinishedAt = "out-of-sync", time.Now().UTC()
	}
	if err := s.FinishPlans(ctx, store.PlanFinish{Session: one, Role: role("a", "one")}, store.PlanFinish{Session: three, Role: role("gone", "three")}); err == nil {
		t.Fatal("finishing a plan of a resource not in the inventory succeeded")
	}
	if got, err := s.Session(ctx, "b1"); err != nil || got.Status != "running" {
		t.Fatalf("a failed FinishPlans finished b1 anyway: %+v %v", got.Status, err)
	}
	must(t, s.FinishPlans(ctx, store.PlanFinish{Session: one, Role: role("a", "one")}, store.PlanFinish{Session: two}))
	roles, err := s.Roles(ctx, "a")
	must(t, err)
	if len(roles) != 1 || roles[0].Label != "one" {
		t.Fatalf("roles after the batch: %+v", roles)
	}
	for _, sid := range []string{"b1", "b2"} {
		if got, err := s.Session(ctx, sid); err != nil || got.Status != "out-of-sync" {
			t.Errorf("session %s: %q %v", sid, got.Status, err)
		}
	}
}

// testLeases: a lease is the first taker's until it expires; its holder
// renews it; then another takes it.
func testLeases(t *testing.T, s store.Store) {
	now := time.Now()
	if ok, err := s.TryLease(ctx, "drift:a", "r1", now.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("a free lease: %v %v", ok, err)
	}
	if ok, _ := s.TryLease(ctx, "drift:a", "r2", now.Add(time.Hour)); ok {
		t.Fatal("a held lease was taken by another")
	}
	if ok, _ := s.TryLease(ctx, "drift:a", "r1", now.Add(-time.Second)); !ok {
		t.Fatal("its holder could not renew it")
	}
	if ok, _ := s.TryLease(ctx, "drift:a", "r2", now.Add(time.Hour)); !ok {
		t.Fatal("an expired lease could not be taken")
	}
	if ok, _ := s.TryLease(ctx, "drift:b", "r1", now.Add(time.Hour)); !ok {
		t.Fatal("another lease is another name")
	}
}

func testPlanAndRoles(t *testing.T, s store.Store) {
	must(t, s.UpsertResources(ctx, []spec.Resource{resource("a", "h")}, "local"))
	finishPlan(t, s, "p-failed", "a", "failed")
	if roles, err := s.Roles(ctx, "a"); err != nil || len(roles) != 0 {
		t.Fatalf("a failed plan upserted a role: %+v %v", roles, err)
	}
	finishPlan(t, s, "p1", "a", "out-of-sync")
	r, err := s.Role(ctx, "a", "ro")
	must(t, err)
	if r.LastPlanSID != "p1" || r.Status != "out-of-sync" || r.Spec.Label != "ro" || r.RoleName != "stile_a_ro" {
		t.Errorf("role after plan = %+v", r)
	}
	finishPlan(t, s, "p2", "a", "in-sync")
	if r, _ := s.Role(ctx, "a", "ro"); r.LastPlanSID != "p2" {
		t.Errorf("second plan did not update the role: %+v", r)
	}
	sess, err := s.Session(ctx, "p2")
	must(t, err)
	if sess.Status != "in-sync" || sess.Output != "doc" || sess.Checksum != "sum" || sess.FinishedAt.IsZero() {
		t.Errorf("finished plan session = %+v", sess)
	}
	_, err = s.Role(ctx, "a", "rw")
	wantCode(t, err, errs.NotFound)
	if r, err := s.RoleByName(ctx, "stile_a_ro"); err != nil || r.Label != "ro" || r.Resource != "a" {
		t.Errorf("RoleByName = %+v, %v", r, err)
	}
	_, err = s.RoleByName(ctx, "stile_a_rw")
	wantCode(t, err, errs.NotFound)
	wantCode(t, s.DeleteRole(ctx, "a", "rw"), errs.NotFound)
	all, err := s.Roles(ctx, "")
	must(t, err)
	if len(all) != 1 {
		t.Errorf("Roles(\"\") = %d roles", len(all))
	}
	must(t, s.DeleteRole(ctx, "a", "ro"))
	if _, err := s.Session(ctx, "p2"); err != nil {
		t.Errorf("deleting a role lost its sessions: %v", err)
	}
	_, err = s.Role(ctx, "a", "ro")
	wantCode(t, err, errs.NotFound)
}

func testClaimPlan(t *testing.T, s store.Store) {
	must(t, s.UpsertResources(ctx, []spec.Resource{resource("a", "h"), resource("b", "h")}, "local"))
	finishPlan(t, s, "plan", "a", "out-of-sync")
	finishPlan(t, s, "bad", "a", "failed")
	apply := func(sid, res string) store.Session {
		return store.Session{SID: sid, Kind: store.KindApply, Resource: res, Actor: "admin", CreatedAt: time.Now().UTC(), Status: "running"}
	}
	wantCode(t, s.ClaimPlan(ctx, "missing", apply("x0", "a")), errs.NotFound)
	wantCode(t, s.ClaimPlan(ctx, "bad", apply("x1", "a")), errs.Conflict)
	wantCode(t, s.ClaimPlan(ctx, "plan", apply("x2", "b")), errs.Conflict)

	var wg sync.WaitGroup
	results := make([]error, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.ClaimPlan(ctx, "plan", apply("apply-"+string(rune('a'+i)), "a"))
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		switch {
		case err == nil:
			wins++
		case errs.CodeOf(err) != errs.Conflict:
			t.Errorf("concurrent claim: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent claims of one plan succeeded, want 1", wins)
	}
	p, err := s.Session(ctx, "plan")
	must(t, err)
	if p.AppliedBy == "" {
		t.Error("the claimed plan does not name its apply")
	}
	if _, err := s.Session(ctx, p.AppliedBy); err != nil {
		t.Errorf("the winning apply session was not recorded: %v", err)
	}
	wantCode(t, s.ClaimPlan(ctx, "plan", apply("late", "a")), errs.Conflict)

	// Two plans of one role: while an apply of the role runs, the other
	// plan cannot be claimed (its pending password would overwrite the
	// running apply's); once that apply ends, it can.
	finishPlan(t, s, "plan-b1", "b", "out-of-sync")
	finishPlan(t, s, "plan-b2", "b", "out-of-sync")
	applyRole := func(sid string) store.Session {
		sess := apply(sid, "b")
		sess.Role, sess.Label = "stile_b_ro", "ro"
		return sess
	}
	claims := make([]error, 2)
	for i, plan := range []string{"plan-b1", "plan-b2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			claims[i] = s.ClaimPlan(ctx, plan, applyRole("apply-b"+string(rune('1'+i))))
		}()
	}
	wg.Wait()
	winner, loser := 0, 1
	if claims[0] != nil {
		winner, loser = 1, 0
	}
	must(t, claims[winner])
	wantCode(t, claims[loser], errs.Conflict)
	done := applyRole("apply-b" + string(rune('1'+winner)))
	done.Status, done.FinishedAt = "applied", time.Now().UTC()
	must(t, s.FinishApply(ctx, done, store.Role{Resource: "b", Label: "ro"}, store.KeepPending))
	must(t, s.ClaimPlan(ctx, []string{"plan-b1", "plan-b2"}[loser], applyRole("apply-b3")))
}

func testPasswords(t *testing.T, s store.Store) {
	must(t, s.UpsertResources(ctx, []spec.Resource{resource("a", "h")}, "local"))
	wantCode(t, s.SetPendingPassword(ctx, "a", "ro", "x"), errs.NotFound)
	finishPlan(t, s, "p1", "a", "out-of-sync")
	must(t, s.SetPendingPassword(ctx, "a", "ro", "pending-1"))
	pending, err := s.PendingPasswords(ctx)
	must(t, err)
	if len(pending) != 1 || pending[0].PasswordPending != "pending-1" {
		t.Fatalf("PendingPasswords = %+v", pending)
	}
	sess := store.Session{SID: "ap1", Kind: store.KindApply, Resource: "a", Actor: "admin", CreatedAt: time.Now().UTC(), Status: "running"}
	must(t, s.CreateSessions(ctx, sess))
	sess.Status, sess.FinishedAt = "applied", time.Now().UTC()
	must(t, s.FinishApply(ctx, sess, store.Role{Resource: "a", Label: "ro", Spec: spec.Role{Resource: "a", Label: "ro", Type: "managed"}}, store.PromotePending))
	r, _ := s.Role(ctx, "a", "ro")
	if r.PasswordCurrent != "pending-1" || r.PasswordPending != "" || r.Status != "applied" || r.LastApplySID != "ap1" || time.Since(r.PasswordSetAt) > time.Minute {
		t.Fatalf("after promote: %+v", r)
	}
	setAt := r.PasswordSetAt
	must(t, s.SetPendingPassword(ctx, "a", "ro", "pending-2"))
	must(t, s.ResolvePending(ctx, "a", "ro", store.DropPending))
	r, _ = s.Role(ctx, "a", "ro")
	if r.PasswordCurrent != "pending-1" || r.PasswordPending != "" || !r.PasswordSetAt.Equal(setAt) {
		t.Fatalf("after drop: %+v", r)
	}
	must(t, s.SetPendingPassword(ctx, "a", "ro", "pending-3"))
	must(t, s.ResolvePending(ctx, "a", "ro", store.KeepPending))
	if r, _ := s.Role(ctx, "a", "ro"); r.PasswordPending != "pending-3" {
		t.Fatalf("keep changed the pending password: %+v", r)
	}
	// A later plan keeps the passwords.
	finishPlan(t, s, "p2", "a", "in-sync")
	if r, _ := s.Role(ctx, "a", "ro"); r.PasswordCurrent != "pending-1" || r.PasswordPending != "pending-3" {
		t.Fatalf("a plan touched the passwords: %+v", r)
	}
}

// testDeclaration: a role's declaration is the spec of its last successful
// apply; a plan of another spec (exploratory) changes neither the spec nor
// the status, a plan of the declared spec (a drift check) updates the
// status, and before any apply the latest plan's spec stands.
func testDeclaration(t *testing.T, s store.Store) {
	must(t, s.UpsertResources(ctx, []spec.Resource{resource("a", "h")}, "local"))
	ro := func(privs ...string) spec.Role {
		return spec.Role{Resource: "a", Label: "ro", Type: "managed", Scopes: []string{"app"}, Privileges: privs}
	}
	plan := func(sid, status string, r spec.Role) {
		t.Helper()
		sess := planSession(sid, "a", status)
		must(t, s.CreateSessions(ctx, sess))
		sess.Status, sess.FinishedAt = status, time.Now().UTC()
		must(t, s.FinishPlans(ctx, store.PlanFinish{Session: sess, Role: &store.Role{Resource: "a", Label: "ro", RoleName: "stile_a_ro", Spec: r}}))
	}
	apply := func(sid, status string, r spec.Role) {
		t.Helper()
		sess := store.Session{SID: sid, Kind: store.KindApply, Resource: "a", Label: "ro", Actor: "admin", CreatedAt: time.Now().UTC(), Status: "running"}
		must(t, s.CreateSessions(ctx, sess))
		sess.Status, sess.FinishedAt = status, time.Now().UTC()
		must(t, s.FinishApply(ctx, sess, store.Role{Resource: "a", Label: "ro", Spec: r}, store.KeepPending))
	}
	want := func(when string, privs []string, status string, declared bool, lastPlan string) {
		t.Helper()
		r, err := s.Role(ctx, "a", "ro")
		must(t, err)
		if !slices.Equal(r.Spec.Privileges, privs) || r.Status != status || r.Declared != declared || r.LastPlanSID != lastPlan {
			t.Fatalf("%s: spec %v, status %s, declared %v, last plan %s; want %v, %s, %v, %s", when, r.Spec.Privileges, r.Status, r.Declared, r.LastPlanSID, privs, status, declared, lastPlan)
		}
	}
	plan("d1", "out-of-sync", ro("SELECT"))
	want("first plan", []string{"SELECT"}, "out-of-sync", false, "d1")
	plan("d2", "out-of-sync", ro("SELECT", "INSERT"))
	want("a second plan before any apply", []string{"SELECT", "INSERT"}, "out-of-sync", false, "d2")
	apply("a1", "failed", ro("SELECT", "INSERT"))
	want("a failed apply", []string{"SELECT", "INSERT"}, "failed", false, "d2")
	apply("a2", "applied", ro("SELECT", "INSERT"))
	want("applied", []string{"SELECT", "INSERT"}, "applied", true, "d2")
	plan("d3", "out-of-sync", ro("SELECT"))
	want("an exploratory plan", []string{"SELECT", "INSERT"}, "applied", true, "d3")
	plan("d4", "out-of-sync", ro("SELECT", "INSERT"))
	want("a drift check", []string{"SELECT", "INSERT"}, "out-of-sync", true, "d4")
	apply("a3", "applied", ro("SELECT"))
	want("the other spec applied", []string{"SELECT"}, "applied", true, "d4")
}

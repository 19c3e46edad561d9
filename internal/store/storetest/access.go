package storetest

// Agents, jobs, web sessions, people and approvals: who reaches what.

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

func testAgents(t *testing.T, s store.Store) {
	must(t, s.CreateAgent(ctx, "edge", "hash-1"))
	wantCode(t, s.CreateAgent(ctx, "edge", "hash-2"), errs.Conflict)
	a, err := s.AgentByToken(ctx, "hash-1")
	must(t, err)
	if a.Name != "edge" || a.CreatedAt.IsZero() {
		t.Errorf("AgentByToken = %+v", a)
	}
	_, err = s.AgentByToken(ctx, "nope")
	wantCode(t, err, errs.NotFound)
	at := time.Now().UTC()
	must(t, s.TouchAgent(ctx, "edge", "v1.2", "replica-a", at))
	list, err := s.Agents(ctx)
	must(t, err)
	if len(list) != 1 || list[0].Version != "v1.2" || list[0].Replica != "replica-a" || list[0].LastSeen.Sub(at).Abs() > time.Millisecond {
		t.Errorf("Agents = %+v", list)
	}
	must(t, s.DisconnectAgent(ctx, "edge", "replica-b"))
	if list, _ := s.Agents(ctx); list[0].Replica != "replica-a" {
		t.Errorf("another replica's disconnect cleared the agent: %+v", list[0])
	}
	must(t, s.DisconnectAgent(ctx, "edge", "replica-a"))
	if list, _ := s.Agents(ctx); list[0].Replica != "" {
		t.Errorf("disconnect kept the replica: %+v", list[0])
	}
	must(t, s.RevokeAgent(ctx, "edge"))
	wantCode(t, s.RevokeAgent(ctx, "edge"), errs.NotFound)
	_, err = s.AgentByToken(ctx, "hash-1")
	wantCode(t, err, errs.NotFound)
	if list, _ := s.Agents(ctx); len(list) != 1 || list[0].RevokedAt.IsZero() {
		t.Errorf("revoked agent: %+v", list)
	}
}

func testJobs(t *testing.T, s store.Store) {
	base := time.Now().UTC()
	for i, a := range []string{"edge", "edge", "other"} {
		must(t, s.EnqueueJob(ctx, store.Job{ID: fmt.Sprintf("j%d", i), Agent: a, Kind: "health", Payload: "sealed", CreatedAt: base.Add(time.Duration(i) * time.Millisecond), Deadline: base.Add(time.Minute)}))
	}
	var mu sync.Mutex
	claimed := map[string]string{}
	var wg sync.WaitGroup
	for _, replica := range []string{"r1", "r2", "r3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobs, err := s.ClaimJobs(ctx, []string{"edge"}, replica, 10)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, j := range jobs {
				if prev, dup := claimed[j.ID]; dup {
					t.Errorf("job %s claimed by %s and %s", j.ID, prev, replica)
				}
				claimed[j.ID] = replica
			}
		}()
	}
	wg.Wait()
	if len(claimed) != 2 {
		t.Fatalf("claimed %v, want j0 and j1 (j2 belongs to another agent)", claimed)
	}
	must(t, s.FinishJob(ctx, "j0", `{"ok":true}`, ""))
	j, err := s.Job(ctx, "j0")
	must(t, err)
	if j.Status != "done" || j.Result != `{"ok":true}` || j.Payload != "sealed" {
		t.Errorf("finished job = %+v", j)
	}
	if j, _ := s.Job(ctx, "j2"); j.Status != "queued" {
		t.Errorf("other agent's job = %+v", j)
	}
	_, err = s.Job(ctx, "nope")
	wantCode(t, err, errs.NotFound)
}

func testWebSessions(t *testing.T, s store.Store) {
	later := time.Now().UTC().Add(time.Hour)
	must(t, s.CreateWebSession(ctx, store.WebSession{IDHash: "h1", CSRF: "c1", TokenHash: "tok", Expires: later}))
	must(t, s.CreateWebSession(ctx, store.WebSession{IDHash: "old", CSRF: "c0", Expires: time.Now().UTC().Add(-time.Minute)}))
	w, err := s.WebSession(ctx, "h1", later.Add(time.Hour))
	must(t, err)
	if w.CSRF != "c1" || w.TokenHash != "tok" {
		t.Errorf("WebSession = %+v", w)
	}
	_, err = s.WebSession(ctx, "old", later)
	wantCode(t, err, errs.NotFound)
	must(t, s.DeleteWebSession(ctx, "h1"))
	_, err = s.WebSession(ctx, "h1", later)
	wantCode(t, err, errs.NotFound)
}

func testCancelRoutes(t *testing.T, s store.Store) {
	now := time.Now().UTC()
	must(t, s.PutCancelRoutes(ctx, store.CancelRoute{KeyHash: "tok:1", User: "ann", Route: []byte{0, 1, 0xff}, CreatedAt: now},
		store.CancelRoute{KeyHash: "pg:1", User: "ann", Route: []byte{2}, CreatedAt: now}))
	wantCode(t, s.PutCancelRoutes(ctx, store.CancelRoute{KeyHash: "tok:1", User: "bob", Route: []byte{3}, CreatedAt: now}), errs.Internal)
	r, err := s.CancelRoute(ctx, "tok:1")
	must(t, err)
	if r.User != "ann" || string(r.Route) != "\x00\x01\xff" {
		t.Errorf("CancelRoute = %+v", r)
	}
	// A month-old route is dropped by the next put.
	must(t, s.PutCancelRoutes(ctx, store.CancelRoute{KeyHash: "old", User: "ann", Route: []byte{4}, CreatedAt: now.AddDate(0, -1, -1)}))
	must(t, s.PutCancelRoutes(ctx, store.CancelRoute{KeyHash: "new", User: "ann", Route: []byte{5}, CreatedAt: now}))
	_, err = s.CancelRoute(ctx, "old")
	wantCode(t, err, errs.NotFound)
	must(t, s.DeleteCancelRoutes(ctx, "tok:1", "pg:1"))
	_, err = s.CancelRoute(ctx, "pg:1")
	wantCode(t, err, errs.NotFound)
}

func testPeople(t *testing.T, s store.Store) {
	now := time.Now().UTC()
	must(t, s.CreateUser(ctx, store.User{Name: "ann", CreatedAt: now}))
	must(t, s.CreateUser(ctx, store.User{Name: "root", Admin: true, CreatedAt: now}))
	wantCode(t, s.CreateUser(ctx, store.User{Name: "ann", CreatedAt: now}), errs.Conflict)
	must(t, s.CreateToken(ctx, store.Token{ID: "t1", User: "ann", Hash: "h1", CreatedAt: now}))
	wantCode(t, s.CreateToken(ctx, store.Token{ID: "t2", User: "nobody", Hash: "h2", CreatedAt: now}), errs.NotFound)
	u, err := s.TokenUser(ctx, "h1")
	must(t, err)
	if u.Name != "ann" || u.Admin || u.Disabled {
		t.Errorf("TokenUser = %+v", u)
	}
	must(t, s.SetUserDisabled(ctx, "ann", true))
	if u, _ := s.TokenUser(ctx, "h1"); !u.Disabled {
		t.Errorf("a disabled user's token does not say so: %+v", u)
	}
	wantCode(t, s.SetUserDisabled(ctx, "nobody", true), errs.NotFound)
	must(t, s.CreateToken(ctx, store.Token{ID: "t0", User: "root", Hash: "h0", CreatedAt: now}))
	must(t, s.RevokeToken(ctx, "t1"))
	_, err = s.TokenUser(ctx, "h1")
	wantCode(t, err, errs.NotFound)
	wantCode(t, s.RevokeToken(ctx, "t1"), errs.NotFound)
	toks, err := s.Tokens(ctx, "ann")
	must(t, err)
	if len(toks) != 1 || toks[0].ID != "t1" || toks[0].RevokedAt.IsZero() || toks[0].CreatedAt.Sub(now).Abs() > time.Millisecond {
		t.Errorf("Tokens(ann) = %+v", toks)
	}
	if all, _ := s.Tokens(ctx, ""); len(all) != 2 {
		t.Errorf("Tokens(\"\") = %+v, want both users' tokens", all)
	}

	must(t, s.CreateGroup(ctx, "analysts"))
	wantCode(t, s.CreateGroup(ctx, "analysts"), errs.Conflict)
	must(t, s.SetMember(ctx, "analysts", "ann", true))
	must(t, s.SetMember(ctx, "analysts", "ann", true))
	wantCode(t, s.SetMember(ctx, "nope", "ann", true), errs.NotFound)
	g, err := s.Groups(ctx)
	must(t, err)
	if len(g["analysts"]) != 1 || g["analysts"][0] != "ann" {
		t.Errorf("Groups = %v", g)
	}
	must(t, s.PutGrant(ctx, store.Grant{Role: "stile_db_ro_1", Group: "analysts"}))
	wantCode(t, s.PutGrant(ctx, store.Grant{Role: "stile_db_ro_1", Group: "nope"}), errs.NotFound)
	a, err := s.Grants(ctx)
	must(t, err)
	if len(a) != 1 || a[0].Group != "analysts" || a[0].Eligible || !a[0].Until.IsZero() {
		t.Errorf("Grants = %+v", a)
	}
	must(t, s.DeleteGrant(ctx, "stile_db_ro_1", "analysts"))
	must(t, s.SetMember(ctx, "analysts", "ann", false))
	if a, _ := s.Grants(ctx); len(a) != 0 {
		t.Errorf("Grants after revoke = %+v", a)
	}
}

// testGrants covers eligible and ending grants: a grant changes in place,
// and EndGrants ends each grant whose time has come once, with its session.
func testGrants(t *testing.T, s store.Store) {
	now := time.Now().UTC().Truncate(time.Second)
	must(t, s.CreateGroup(ctx, "g"))
	must(t, s.CreateGroup(ctx, "h"))
	must(t, s.PutGrant(ctx, store.Grant{Role: "r", Group: "g", GrantedBy: "boss", GrantedAt: now}))
	must(t, s.PutGrant(ctx, store.Grant{Role: "r", Group: "g", Eligible: true, Until: now.Add(-time.Second), GrantedBy: "boss2", GrantedAt: now}))
	must(t, s.PutGrant(ctx, store.Grant{Role: "r", Group: "h", Until: now.Add(time.Hour)}))
	list, err := s.Grants(ctx)
	must(t, err)
	if len(list) != 2 || !list[0].Eligible || list[0].GrantedBy != "boss2" || !list[0].Until.Equal(now.Add(-time.Second)) || !list[1].Until.Equal(now.Add(time.Hour)) {
		t.Fatalf("Grants = %+v", list)
	}
	mk := func(g store.Grant) store.Session {
		return store.Session{SID: "end-" + g.Group, Kind: "access", Role: g.Role, Actor: "stile", CreatedAt: now, FinishedAt: now, Status: "ok"}
	}
	ended, err := s.EndGrants(ctx, now, mk)
	must(t, err)
	if len(ended) != 1 || ended[0].Group != "g" {
		t.Fatalf("EndGrants = %+v", ended)
	}
	if again, err := s.EndGrants(ctx, now, mk); err != nil || len(again) != 0 {
		t.Fatalf("EndGrants again = %+v %v", again, err)
	}
	if sess, err := s.Session(ctx, "end-g"); err != nil || sess.ChainSeq == 0 {
		t.Errorf("the end's session: %+v %v", sess, err)
	}
	if list, _ := s.Grants(ctx); len(list) != 1 || list[0].Group != "h" {
		t.Errorf("Grants after the end = %+v", list)
	}
}

// testRequests covers policies and requests: filters, and UpdateRequest
// writing a change with its sessions, or nothing.
func testRequests(t *testing.T, s store.Store) {
	_, err := s.Policy(ctx, "r")
	wantCode(t, err, errs.NotFound)
	p := store.AccessPolicy{Role: "r", MaxSeconds: 3600, ReasonRequired: true, Approvers: []string{"dba", "sre"}, Approvals: 2, PendingSeconds: 600}
	must(t, s.SetPolicy(ctx, p))
	p.Approvals = 1
	must(t, s.SetPolicy(ctx, p))
	if got, err := s.Policy(ctx, "r"); err != nil || got.Approvals != 1 || len(got.Approvers) != 2 || got.Approvers[1] != "sre" || !got.ReasonRequired {
		t.Errorf("Policy = %+v %v", got, err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	r := store.AccessRequest{ID: "q1", Role: "r", User: "ann", Reason: "INC-1", Seconds: 60, Status: store.RequestPending, Approvals: 2, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateRequest(ctx, r, store.Session{SID: "q1-made", Kind: "request", CreatedAt: now, FinishedAt: now, Status: "pending"}))
	r2 := r
	r2.ID, r2.User, r2.CreatedAt, r2.ExpiresAt = "q2", "bob", now.Add(time.Second), now.Add(-time.Second)
	must(t, s.CreateRequest(ctx, r2, store.Session{SID: "q2-made", Kind: "request", CreatedAt: now, FinishedAt: now, Status: "pending"}))
	if list, _ := s.Requests(ctx, store.RequestFilter{}); len(list) != 2 || list[0].ID != "q2" || list[1].Reviews == nil {
		t.Errorf("Requests = %+v", list)
	}
	if list, _ := s.Requests(ctx, store.RequestFilter{User: "ann", Status: []string{store.RequestPending, store.RequestApproved}}); len(list) != 1 || list[0].ID != "q1" {
		t.Errorf("ann's open requests = %+v", list)
	}
	if list, _ := s.Requests(ctx, store.RequestFilter{DueBy: now}); len(list) != 1 || list[0].ID != "q2" {
		t.Errorf("due = %+v", list)
	}
	got, err := s.UpdateRequest(ctx, "q1", func(r *store.AccessRequest) ([]store.Session, error) {
		r.Reviews = append(r.Reviews, store.Review{User: "bob", Approve: true, At: now})
		r.Status, r.StartsAt, r.EndsAt = store.RequestApproved, now, now.Add(time.Minute)
		return []store.Session{{SID: "q1-ok", Kind: "request", CreatedAt: now, FinishedAt: now, Status: "approved"}}, nil
	})
	must(t, err)
	if got.Status != store.RequestApproved || len(got.Reviews) != 1 {
		t.Errorf("updated = %+v", got)
	}
	_, err = s.UpdateRequest(ctx, "q1", func(r *store.AccessRequest) ([]store.Session, error) {
		r.Status = store.RequestEnded
		return []store.Session{{SID: "q1-never", Kind: "request", CreatedAt: now, FinishedAt: now, Status: "ended"}}, store.ErrNoChange
	})
	if !errors.Is(err, store.ErrNoChange) {
		t.Errorf("UpdateRequest with no change: %v", err)
	}
	if r, err := s.Request(ctx, "q1"); err != nil || r.Status != store.RequestApproved || r.Reviews[0].User != "bob" || !r.EndsAt.Equal(now.Add(time.Minute)) {
		t.Errorf("Request = %+v %v", r, err)
	}
	if _, err := s.Session(ctx, "q1-never"); err == nil {
		t.Error("a change that wrote nothing recorded its session")
	}
	_, err = s.UpdateRequest(ctx, "nope", func(*store.AccessRequest) ([]store.Session, error) { return nil, nil })
	wantCode(t, err, errs.NotFound)
}

func testApprovals(t *testing.T, s store.Store) {
	must(t, s.SetApprovalRequired(ctx, "r1", true))
	must(t, s.SetApprovalRequired(ctx, "r1", true))
	if on, err := s.ApprovalRequired(ctx, "r1"); err != nil || !on {
		t.Fatalf("ApprovalRequired = %v %v", on, err)
	}
	if on, _ := s.ApprovalRequired(ctx, "r2"); on {
		t.Error("r2 needs no approval")
	}
	must(t, s.CreateApproval(ctx, store.Approval{ID: "a1", Role: "r1", User: "ann", Database: "db", Status: "pending", CreatedAt: time.Now().UTC()}))
	must(t, s.DecideApproval(ctx, "a1", "pending", "approved", "boss"))
	wantCode(t, s.DecideApproval(ctx, "a1", "pending", "denied", "boss"), errs.Conflict)
	a, err := s.Approval(ctx, "a1")
	must(t, err)
	if a.Status != "approved" || a.DecidedBy != "boss" || a.User != "ann" {
		t.Errorf("approval = %+v", a)
	}
	if list, _ := s.Approvals(ctx, "pending"); len(list) != 0 {
		t.Errorf("pending = %+v", list)
	}
	must(t, s.DecideApproval(ctx, "a1", "approved", "used", ""))
	if a, _ := s.Approval(ctx, "a1"); a.DecidedBy != "boss" || a.Status != "used" {
		t.Errorf("used approval = %+v", a)
	}
	_, err = s.Approval(ctx, "nope")
	wantCode(t, err, errs.NotFound)
	must(t, s.SetApprovalRequired(ctx, "r1", false))
	if on, _ := s.ApprovalRequired(ctx, "r1"); on {
		t.Error("approval still required")
	}
}

// testRotations covers rotation schedules: set, changed, an attempt
// recorded, removed.
func testRotations(t *testing.T, s store.Store) {
	now := time.Now().UTC().Truncate(time.Second)
	must(t, s.PutRotation(ctx, store.Rotation{Role: "r", EverySeconds: 60, SetBy: "boss", SetAt: now}))
	must(t, s.PutRotation(ctx, store.Rotation{Role: "r", EverySeconds: 120, SetBy: "boss2", SetAt: now}))
	must(t, s.RotationAttempt(ctx, "r", now, "agent offline"))
	list, err := s.Rotations(ctx)
	must(t, err)
	if len(list) != 1 || list[0].EverySeconds != 120 || list[0].SetBy != "boss2" || !list[0].LastAttempt.Equal(now) || list[0].LastError != "agent offline" {
		t.Fatalf("Rotations = %+v", list)
	}
	must(t, s.PutRotation(ctx, store.Rotation{Role: "r"}))
	if list, _ := s.Rotations(ctx); len(list) != 0 {
		t.Errorf("Rotations after removal = %+v", list)
	}
}

// testCampaigns covers a campaign: created with its items, decided under a
// lock with the grants it revokes in the same transaction, listed with
// counts.
func testCampaigns(t *testing.T, s store.Store) {
	now := time.Now().UTC().Truncate(time.Second)
	must(t, s.CreateGroup(ctx, "g"))
	must(t, s.CreateGroup(ctx, "h"))
	must(t, s.PutGrant(ctx, store.Grant{Role: "r", Group: "g"}))
	must(t, s.PutGrant(ctx, store.Grant{Role: "r", Group: "h"}))
	c := store.Campaign{ID: "c1", CreatedBy: "boss", CreatedAt: now, DueAt: now.Add(time.Hour), OnDue: "revoke", Status: "open", Items: []store.CampaignItem{
		{Role: "r", Group: "g", Members: []store.MemberUse{{User: "ann", LastUsed: now}}, LastUsed: now, Reviewers: []string{}},
		{Role: "r", Group: "h", Members: []store.MemberUse{}, Reviewers: []string{"dba"}},
	}}
	must(t, s.CreateCampaign(ctx, c, store.Session{SID: "c1-start", Kind: "review", CreatedAt: now, FinishedAt: now, Status: "open"}))
	got, err := s.Campaign(ctx, "c1")
	must(t, err)
	if len(got.Items) != 2 || got.Pending != 2 || got.Items[0].Members[0].User != "ann" || got.Items[1].Reviewers[0] != "dba" {
		t.Fatalf("Campaign = %+v", got)
	}
	got, err = s.UpdateCampaign(ctx, "c1", func(c *store.Campaign) ([]store.Grant, []store.Session, error) {
		c.Items[1].Decision, c.Items[1].DecidedBy = store.ItemRevoked, "bob"
		return []store.Grant{{Role: "r", Group: "h"}}, []store.Session{{SID: "c1-h", Kind: "review", CreatedAt: now, FinishedAt: now, Status: "revoked"}}, nil
	})
	must(t, err)
	if got.Revoked != 1 || got.Pending != 1 {
		t.Errorf("after the decision: %+v", got)
	}
	if g, _ := s.Grants(ctx); len(g) != 1 || g[0].Group != "g" {
		t.Errorf("grants after the revocation: %+v", g)
	}
	list, err := s.Campaigns(ctx)
	must(t, err)
	if len(list) != 1 || list[0].Revoked != 1 || list[0].Items != nil {
		t.Errorf("Campaigns = %+v", list)
	}
	_, err = s.Campaign(ctx, "nope")
	wantCode(t, err, errs.NotFound)
}

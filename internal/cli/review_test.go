package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/api"
)

// TestReviewCampaign: a campaign puts every standing grant before its
// reviewers with its members' last use: the role's approvers see and
// decide only their role's grants, an administrator revokes the unused
// ones in bulk (their groups lose the role at once) and confirms the rest,
// which closes it; a campaign left undecided flags or revokes at its due
// date, closing a connection that depended on a revoked grant; the access
// report carries the last campaign.
func TestReviewCampaign(t *testing.T) {
	s := startRoleServer(t, "", "one", "SELECT")
	h, db, pgAddr := s.harness, s.db, s.pgAddr
	roles := map[string]string{"one": s.role, "two": s.applyRole("two", "SELECT")}
	one, two := roles["one"], roles["two"]
	for _, g := range []string{"analysts", "legacy", "dba", "oncall"} {
		h.ok("", "groups", "create", g)
	}
	ann := h.member("ann", "analysts")
	h.member("old", "legacy")
	bob := h.member("bob", "dba")
	h.ok("", "access", "grant", one, "--group", "analysts")
	h.ok("", "access", "grant", one, "--group", "legacy")
	h.ok("", "access", "grant", two, "--group", "analysts")
	h.ok("", "access", "grant", two, "--group", "oncall", "--eligible")
	h.ok("", "access", "policy", two, "--approvers", "dba")

	// ann uses one: her last use is what the campaign shows.
	conn, err := listenerConn(pgAddr, one, db, ann.vars["STILE_TOKEN"])
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	// Her last use of it (the fleet's report names every role, used or
	// not: waiting on it raced the recording of her use).
	waitFor(t, "ann's use recorded", 10*time.Second, func() bool {
		return strings.Contains(h.ok("", "usage", "user", "ann", "--json"), one)
	})

	out := h.ok("", "review", "start", "--due", "1h")
	id := campaignID(out)
	if !strings.Contains(out, "3 standing grant(s)") {
		t.Fatalf("review start (the eligible grant is not one): %s", out)
	}
	unused := h.ok("", "review", "show", id, "--unused", "30d")
	if !strings.Contains(unused, one+"/legacy") || !strings.Contains(unused, two+"/analysts") || strings.Contains(unused, one+"/analysts") {
		t.Fatalf("the unused grants:\n%s", unused)
	}
	// bob reviews two's grant only.
	if out := bob.ok("", "review", "show", id); strings.Contains(out, one+"/") || !strings.Contains(out, two+"/analysts") {
		t.Fatalf("bob's part of the campaign:\n%s", out)
	}
	bob.fails(1, "no grant", "", "review", "confirm", id, one+"/analysts")
	ann.fails(1, "does not exist", "", "review", "show", id)
	bob.fails(1, "control character", "", "review", "confirm", id, "--all", "--note", "\x1b[2J")
	if out := bob.ok("", "review", "confirm", id, "--all", "--note", "still on call"); !strings.Contains(out, "confirmed 1 grant(s)") {
		t.Fatalf("bob confirms: %s", out)
	}
	// The administrator revokes what nobody used, in bulk.
	if out := h.ok("", "review", "revoke", id, "--unused", "30d"); !strings.Contains(out, "revoked 1 grant(s)") {
		t.Fatalf("revoke the unused: %s", out)
	}
	if out := h.ok("", "access", "list"); strings.Contains(out, "legacy") {
		t.Fatalf("legacy kept its grant:\n%s", out)
	}
	h.fails(1, "already", "", "review", "confirm", id, one+"/legacy")
	if out := h.ok("", "review", "confirm", id, one+"/analysts"); !strings.Contains(out, "is closed") {
		t.Fatalf("the last decision closes the campaign: %s", out)
	}
	// The revocation is also an access session of the role's resource
	// (its page lists it).
	if out := h.ok("", "sessions", "list", "--kind", "access", "--resource", s.res, "--json"); !strings.Contains(out, "revoked group legacy's use of "+one) {
		t.Errorf("the revocation is not among the resource's access sessions:\n%s", out)
	}
	sessions := h.ok("", "sessions", "list", "--kind", "review", "--json")
	for _, want := range []string{"started a recertification of 3 standing grant(s)", "bob confirmed group analysts's use of " + two, "revoked group legacy's use of " + one, "campaign " + id + " closed: 2 confirmed, 1 revoked, 0 flagged"} {
		if !strings.Contains(sessions, want) {
			t.Errorf("review sessions lack %q", want)
		}
	}

	// Left undecided: flagged at the due date.
	flagged := campaignID(h.ok("", "review", "start", "--due", "2s", "--on-due", "flag"))
	waitFor(t, "the flagging campaign's close", 15*time.Second, func() bool {
		return strings.Contains(h.ok("", "review", "list"), flagged+"  closed")
	})
	if out := h.ok("", "access", "list"); !strings.Contains(out, "analysts") {
		t.Fatalf("a flagging campaign revoked:\n%s", out)
	}
	// Left undecided: revoked at the due date, and ann's open connection
	// closes.
	conn, err = listenerConn(pgAddr, one, db, ann.vars["STILE_TOKEN"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	revoking := campaignID(h.ok("", "review", "start", "--due", "2s"))
	waitClosed(t, conn, "ann's connection after the campaign revoked her group's grant", 15*time.Second)
	if out := h.ok("", "access", "list"); strings.Contains(out, one+"  analysts") {
		t.Fatalf("a revoking campaign left the grant:\n%s", out)
	}
	var rep struct {
		LastCampaign *api.Campaign `json:"last_campaign"`
	}
	if err := json.Unmarshal([]byte(h.ok("", "report", "access")), &rep); err != nil || rep.LastCampaign == nil || rep.LastCampaign.ID != revoking || rep.LastCampaign.Revoked != 2 {
		t.Fatalf("the access report's last campaign: %+v %v", rep.LastCampaign, err)
	}
}

// campaignID is the id stile review start printed.
func campaignID(out string) string {
	return strings.TrimSuffix(strings.Fields(out)[1], ":")
}

package service

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/audit"
	"github.com/stile-dev/stile/internal/store"
)

// TestAlerts: a burst of failed sign-ins from one address raises one
// critical alert per minute, and none from an address under the limit; an
// administrator's token used from an address it never was raises a
// warning, its first use and a member's token do not. Each alert is a
// session exported as a security event.
func TestAlerts(t *testing.T) {
	svc, err := newService(t, t.TempDir(), "stile", runner.Local{})
	if err != nil {
		t.Fatal(err)
	}
	svc.SignIn.signIns.limit, svc.SignIn.adminToken = 5, "admin-token"
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	svc.Reporting.now = func() time.Time { return now }
	from := func(addr, via string) context.Context { return WithSource(ctx, addr+":51234", via) }
	alerts := func() []store.Session {
		t.Helper()
		list, err := svc.Reporting.Sessions(ctx, Admin, store.SessionFilter{Kind: KindAlert})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}

	for range 4 {
		svc.SignIn.Authenticate(from("198.51.100.7", "pg"), "wrong")
	}
	for range 12 {
		svc.SignIn.Authenticate(from("203.0.113.9", "api"), "wrong")
		now = now.Add(time.Second)
	}
	got := alerts()
	if len(got) != 1 || got[0].Status != "critical" || !strings.Contains(got[0].Message, "5 failed sign-ins from 203.0.113.9 (api) within 1m0s") {
		t.Fatalf("alerts after a burst = %+v, want one about 203.0.113.9", got)
	}
	var in map[string]any
	json.Unmarshal([]byte(got[0].Input), &in)
	if in["alert"] != AlertFailedSignIns || in["source"] != "203.0.113.9" || in["via"] != "api" {
		t.Errorf("alert input = %s", got[0].Input)
	}
	if sev, cat := audit.Classify(got[0]); sev != audit.SeverityCritical || cat != "security" {
		t.Errorf("classified %s/%s, want critical/security", sev, cat)
	}
	// A minute on, the burst goes on: one more alert.
	now = now.Add(time.Minute)
	for range 5 {
		svc.SignIn.Authenticate(from("203.0.113.9", "web"), "")
	}
	if n := len(alerts()); n != 2 {
		t.Fatalf("%d alerts after a second minute of failures, want 2", n)
	}

	// The admin token: first from one address, then again, then from a
	// new one: one warning. A member's token from anywhere: none.
	if _, err := svc.SignIn.Authenticate(from("10.1.1.1", "api"), "admin-token"); err != nil {
		t.Fatal(err)
	}
	svc.SignIn.Authenticate(from("10.1.1.1", "api"), "admin-token")
	if n := len(alerts()); n != 2 {
		t.Fatalf("the admin token's first address raised an alert (%d)", n)
	}
	now = now.Add(time.Second)
	if _, err := svc.SignIn.Authenticate(from("10.9.9.9", "web"), "admin-token"); err != nil {
		t.Fatal(err)
	}
	got = alerts()
	if len(got) != 3 || got[0].Status != "warning" || !strings.Contains(got[0].Message, "the admin token was used from 10.9.9.9 (web), an address it was never used from (1 known)") {
		t.Fatalf("alerts after a new address = %+v", got[0])
	}
	if err := svc.Access.CreateUser(ctx, Principal{User: "admin", Admin: true}, "mia", false); err != nil {
		t.Fatal(err)
	}
	_, tok, err := svc.Access.CreateToken(ctx, Principal{User: "admin", Admin: true}, "mia")
	if err != nil {
		t.Fatal(err)
	}
	svc.SignIn.Authenticate(from("10.1.1.1", "api"), tok)
	svc.SignIn.Authenticate(from("10.2.2.2", "api"), tok)
	if n := len(alerts()); n != 3 {
		t.Errorf("a member's token raised an alert (%d alerts)", n)
	}
	// An administrator's personal token is watched too.
	if err := svc.Access.CreateUser(ctx, Principal{User: "admin", Admin: true}, "ops", true); err != nil {
		t.Fatal(err)
	}
	_, opsTok, _ := svc.Access.CreateToken(ctx, Principal{User: "admin", Admin: true}, "ops")
	svc.SignIn.Authenticate(from("10.1.1.1", "api"), opsTok)
	now = now.Add(time.Second)
	svc.SignIn.Authenticate(from("10.3.3.3", "pg"), opsTok)
	if got := alerts(); len(got) != 4 || !strings.Contains(got[0].Message, "ops's token") {
		t.Errorf("an admin user's token from a new address: %+v", got[0])
	}
}

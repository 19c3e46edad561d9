package service

import (
	"context"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/mask"
	"github.com/stile-dev/stile/internal/pgattack"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// TestCheckMasking: the masking check runs each rule's canary through the
// relay and the listener, in text and binary, and finds them masked or
// refused; a strict rule whose plan was not applied yet is read raw with
// the role's own password, which is a leak, a critical alert, and a
// session that holds no value. Once applied, PostgreSQL refuses it.
func TestCheckMasking(t *testing.T) {
	svc, db, role, _ := hostileSetup(t)
	ctx := context.Background()
	ln := serveListener(t, svc)
	svc.Masking.SetListenerAddr(ln.String())
	if _, err := svc.Masking.AddMaskRule(ctx, Principal{User: "admin", Admin: true}, role["masked"], mask.Rule{ID: "strictnick", Column: "*.*.customers.nickname", Style: mask.Redact, Strict: true}); err != nil {
		t.Fatal(err)
	}

	got, err := svc.Masking.CheckMasking(ctx, Principal{User: "admin", Admin: true}, role["masked"])
	if err != nil {
		t.Fatal(err)
	}
	t.Log(got.Text())
	outcome := func(path, canary, format string) string {
		for _, p := range got.Probes {
			if p.Path == path && strings.HasPrefix(p.Canary, canary) && p.Format == format {
				return p.Outcome
			}
		}
		return "none"
	}
	for _, tt := range []struct{ path, canary, format, want string }{
		{PathRelay, "rule mail:", "text", ProbeMasked},
		{PathRelay, "rule mail:", "binary", ProbeMasked},
		{PathListener, "rule ssn:", "text", ProbeMasked},
		{PathListener, "rule cards: detector card", "binary", ProbeMasked},
		{PathRelay, "rule emails: detector email", "text", ProbeMasked},
		{"-", "rule ssns", "", ProbeSkipped},               // a custom regex has no sample
		{PathDirect, "rule strictnick:", "text", ProbeRaw}, // not applied yet
		{PathDirect, "rule mail:", "text", "none"},         // not strict: masking is stile's
	} {
		if o := outcome(tt.path, tt.canary, tt.format); o != tt.want {
			t.Errorf("%s %s %s: %s, want %s", tt.path, tt.canary, tt.format, o, tt.want)
		}
	}
	if got.Leaks != 2 || got.Errors != 0 { // the strict column, text and binary
		t.Errorf("%d leaks, %d errors; want 2 and 0", got.Leaks, got.Errors)
	}
	sess, err := svc.Reporting.Session(ctx, Admin, got.SID)
	if err != nil || sess.Kind != KindMaskingCheck || sess.Status != "leak" {
		t.Fatalf("the check's session: %+v %v", sess, err)
	}
	for _, secret := range append(pgattack.Secrets, "Shadowfax-Zeta") {
		if strings.Contains(sess.Output+sess.Message, secret) {
			t.Errorf("the session holds %q", secret)
		}
	}
	alerts, _ := svc.Reporting.Sessions(ctx, Admin, store.SessionFilter{Kind: KindAlert})
	if len(alerts) == 0 || alerts[0].Status != "critical" || !strings.Contains(alerts[0].Message, got.SID) {
		t.Errorf("no critical alert for the leak: %+v", alerts)
	}

	// Applied, PostgreSQL withholds the column: nothing leaks.
	applyRole(t, svc, spec.Role{Resource: strings.TrimSuffix(db, "_shop"), Label: "masked", Scopes: []string{db}, Privileges: []string{"SELECT", "INSERT", "UPDATE", "DELETE"}})
	got, err = svc.Masking.CheckMasking(ctx, Principal{User: "admin", Admin: true}, role["masked"])
	if err != nil {
		t.Fatal(err)
	}
	if got.Leaks != 0 || outcome(PathDirect, "rule strictnick:", "text") != ProbeRefused || outcome(PathRelay, "rule strictnick:", "text") != ProbeRefused {
		t.Errorf("after the apply:\n%s", got.Text())
	}
	// The drift check runs it too.
	svc.Provisioning.checkDrift(ctx, strings.TrimSuffix(db, "_shop"))
	checks, _ := svc.Reporting.Sessions(ctx, Admin, store.SessionFilter{Kind: KindMaskingCheck})
	if len(checks) != 3 || checks[0].Actor != DriftActor || checks[0].Status != "ok" {
		t.Errorf("the drift check's masking check: %d sessions, latest %+v", len(checks), checks[0])
	}
	if _, err := svc.Masking.CheckMasking(ctx, Principal{User: "admin", Admin: true}, role["guarded"]); err == nil {
		t.Error("a role without masking rules was checked")
	}
}

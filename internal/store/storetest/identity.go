package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/mask"
	"github.com/stile-dev/stile/internal/store"
)

// testIdentity: users from the identity provider are found by subject,
// unique by it, and their sign-ins recorded; a web sign-in can name its
// user.
func testIdentity(t *testing.T, s store.Store) {
	must(t, s.CreateUser(ctx, store.User{Name: "ann", CreatedAt: time.Now(), Source: store.SourceOIDC, Subject: "https://idp/|u1"}))
	must(t, s.CreateUser(ctx, store.User{Name: "local", CreatedAt: time.Now()}))
	wantCode(t, s.CreateUser(ctx, store.User{Name: "ann2", CreatedAt: time.Now(), Source: store.SourceOIDC, Subject: "https://idp/|u1"}), errs.Conflict)
	u, err := s.UserBySubject(ctx, "https://idp/|u1")
	must(t, err)
	if u.Name != "ann" || u.Source != store.SourceOIDC || !u.LastSignIn.IsZero() {
		t.Errorf("by subject = %+v", u)
	}
	_, err = s.UserBySubject(ctx, "")
	wantCode(t, err, errs.NotFound)
	at := time.Now().UTC().Truncate(time.Millisecond)
	must(t, s.SignedIn(ctx, "ann", true, at))
	wantCode(t, s.SignedIn(ctx, "nobody", false, at), errs.NotFound)
	if u, _ := s.User(ctx, "ann"); !u.Admin || !u.LastSignIn.Equal(at) {
		t.Errorf("after a sign-in = %+v", u)
	}
	if u, _ := s.User(ctx, "local"); u.Source != store.SourceLocal || u.Subject != "" {
		t.Errorf("a local user = %+v", u)
	}
	_, err = s.User(ctx, "nobody")
	wantCode(t, err, errs.NotFound)
	must(t, s.CreateWebSession(ctx, store.WebSession{IDHash: "w1", CSRF: "c", User: "ann", Expires: time.Now().Add(time.Hour)}))
	if w, err := s.WebSession(ctx, "w1", time.Now().Add(time.Hour)); err != nil || w.User != "ann" || w.TokenHash != "" {
		t.Errorf("web session = %+v, %v", w, err)
	}
}

// testLogins: tokens that expire, and device logins approved once and
// taken once.
func testLogins(t *testing.T, s store.Store) {
	must(t, s.CreateUser(ctx, store.User{Name: "ann", CreatedAt: time.Now()}))
	must(t, s.CreateToken(ctx, store.Token{ID: "k-live", User: "ann", Hash: "h-live", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}))
	must(t, s.CreateToken(ctx, store.Token{ID: "k-old", User: "ann", Hash: "h-old", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(-time.Second)}))
	if u, err := s.TokenUser(ctx, "h-live"); err != nil || u.Name != "ann" {
		t.Errorf("an unexpired token: %+v, %v", u, err)
	}
	_, err := s.TokenUser(ctx, "h-old")
	wantCode(t, err, errs.NotFound)
	if ks, _ := s.Tokens(ctx, "ann"); len(ks) != 2 || ks[0].ExpiresAt.IsZero() {
		t.Errorf("tokens = %+v", ks)
	}

	now := time.Now()
	must(t, s.CreateDeviceLogin(ctx, store.DeviceLogin{DeviceHash: "d1", UserCode: "ABCD-EFGH", Expires: now.Add(time.Minute)}))
	wantCode(t, s.CreateDeviceLogin(ctx, store.DeviceLogin{DeviceHash: "d2", UserCode: "ABCD-EFGH", Expires: now.Add(time.Minute)}), errs.Conflict)
	d, err := s.TakeDeviceLogin(ctx, "d1", now)
	must(t, err)
	if d.Status != "pending" || d.UserCode != "ABCD-EFGH" {
		t.Errorf("a device login before approval = %+v", d)
	}
	wantCode(t, s.ApproveDeviceLogin(ctx, "WXYZ-0000", "ann", now), errs.NotFound)
	must(t, s.ApproveDeviceLogin(ctx, "ABCD-EFGH", "ann", now))
	wantCode(t, s.ApproveDeviceLogin(ctx, "ABCD-EFGH", "bob", now), errs.NotFound)
	if d, err := s.TakeDeviceLogin(ctx, "d1", now); err != nil || d.Status != "approved" || d.User != "ann" {
		t.Errorf("taking the approved login = %+v, %v", d, err)
	}
	_, err = s.TakeDeviceLogin(ctx, "d1", now)
	wantCode(t, err, errs.NotFound)
	must(t, s.CreateDeviceLogin(ctx, store.DeviceLogin{DeviceHash: "d3", UserCode: "LATE-0000", Expires: now.Add(time.Minute)}))
	wantCode(t, s.ApproveDeviceLogin(ctx, "LATE-0000", "ann", now.Add(2*time.Minute)), errs.NotFound)
	_, err = s.TakeDeviceLogin(ctx, "d3", now.Add(2*time.Minute))
	wantCode(t, err, errs.NotFound)
}

// testMasking: a role's masking rules.
func testMasking(t *testing.T, s store.Store) {
	now := time.Now()
	must(t, s.AddMaskRule(ctx, "r1", mask.Rule{ID: "a", Column: "*.*.*.email", Style: mask.Partial}, now))
	must(t, s.AddMaskRule(ctx, "r1", mask.Rule{ID: "b", Detector: "regex", Regex: `\d+`, Style: mask.Hash}, now.Add(time.Second)))
	must(t, s.AddMaskRule(ctx, "r2", mask.Rule{ID: "a", Detector: "email", Style: mask.Redact}, now))
	wantCode(t, s.AddMaskRule(ctx, "r1", mask.Rule{ID: "a", Detector: "email", Style: mask.Redact}, now), errs.Conflict)
	rules, err := s.MaskRules(ctx, "r1")
	must(t, err)
	if len(rules) != 2 || rules[0] != (mask.Rule{ID: "a", Column: "*.*.*.email", Style: mask.Partial}) || rules[1].Regex != `\d+` {
		t.Errorf("rules of r1 = %+v", rules)
	}
	must(t, s.AddMaskRule(ctx, "r2", mask.Rule{ID: "s2", Column: "d.s.t.ssn", Style: mask.Redact, Strict: true}, now))
	must(t, s.AddMaskRule(ctx, "r2", mask.Rule{ID: "s1", Column: "*.*.*.email", Style: mask.Redact, Strict: true}, now))
	must(t, s.AddMaskRule(ctx, "r3", mask.Rule{ID: "s", Column: "*.*.*.card", Style: mask.Redact, Strict: true}, now))
	must(t, s.AddMaskRule(ctx, "r3", mask.Rule{ID: "s-again", Column: "*.*.*.card", Style: mask.Hash, Strict: true}, now))
	strict, err := s.StrictColumns(ctx)
	must(t, err)
	if len(strict) != 2 || !slices.Equal(strict["r2"], []string{"*.*.*.email", "d.s.t.ssn"}) || !slices.Equal(strict["r3"], []string{"*.*.*.card"}) {
		t.Errorf("strict columns = %v", strict)
	}
	if rules, _ := s.MaskRules(ctx, "r3"); len(rules) != 2 || !rules[0].Strict {
		t.Errorf("rules of r3 = %+v", rules)
	}
	must(t, s.DeleteMaskRule(ctx, "r1", "a"))
	wantCode(t, s.DeleteMaskRule(ctx, "r1", "a"), errs.NotFound)
	if rules, _ := s.MaskRules(ctx, "r1"); len(rules) != 1 {
		t.Errorf("after removing a: %+v", rules)
	}
}

// testGuardrails: a role's guardrails, none until set.
func testGuardrails(t *testing.T, s store.Store) {
	if p, err := s.Guardrails(ctx, "r1"); err != nil || !p.Empty() {
		t.Errorf("guardrails never set = %+v, %v", p, err)
	}
	must(t, s.SetGuardrails(ctx, "r1", guard.Policy{Block: []string{guard.DDL, guard.Truncate}, ReadOnly: true}))
	must(t, s.SetGuardrails(ctx, "r1", guard.Policy{Block: []string{guard.DeleteWithoutWhere}}))
	if p, err := s.Guardrails(ctx, "r1"); err != nil || p.ReadOnly || len(p.Block) != 1 || p.Block[0] != guard.DeleteWithoutWhere {
		t.Errorf("guardrails = %+v, %v", p, err)
	}
}

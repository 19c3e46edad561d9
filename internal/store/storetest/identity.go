package storetest

import (
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/errs"
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

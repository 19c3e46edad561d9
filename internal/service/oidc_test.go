package service

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/oidctest"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

const callbackURL = "http://127.0.0.1:1/auth/oidc/callback"

// oidcService is a service whose web app signs in with a real provider
// (oidctest) that knows ann (groups analysts and dba) and bob.
func oidcService(t *testing.T) (*Services, *oidctest.Provider) {
	t.Helper()
	p := oidctest.Start(t, []oidctest.User{
		{ID: "u-ann", Username: "ann", Password: "ann-pw", Email: "ann@example.com", Groups: []string{"analysts", "dba"}},
		{ID: "u-bob", Username: "Bob.Smith", Password: "bob-pw", Email: "bob@example.com"},
	}, callbackURL)
	svc, err := newService(t, t.TempDir(), "stile", runner.Local{})
	if err != nil {
		t.Fatal(err)
	}
	svc.SignIn.oidc = &OIDCConfig{Issuer: p.Issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret, RedirectURL: callbackURL,
		Name: "Test IdP", Scopes: []string{"profile", "email"}, AdminGroup: "dba"}
	return svc, p
}

// providerLogin signs in at the provider as a browser would, from an
// authorization URL to the callback's query (code and state).
func providerLogin(t *testing.T, authURL, username, password string) url.Values {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := authURL
	for range 10 {
		var resp *http.Response
		var err error
		if u, _ := url.Parse(next); strings.HasSuffix(u.Path, "/login/username") && u.Query().Get("authRequestID") != "" {
			resp, err = c.PostForm(u.Scheme+"://"+u.Host+"/login/username", url.Values{"id": {u.Query().Get("authRequestID")}, "username": {username}, "password": {password}})
		} else {
			resp, err = c.Get(next)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("the provider answered %s without a redirect at %s", resp.Status, next)
		}
		if strings.HasPrefix(loc.String(), callbackURL) {
			return loc.Query()
		}
		next = loc.String()
	}
	t.Fatal("the provider never sent the browser back")
	return nil
}

func signIn(t *testing.T, svc *Services, username, password string) (string, error) {
	t.Helper()
	authURL, cookie, err := svc.SignIn.OIDCStart(context.Background(), "/roles")
	if err != nil {
		t.Fatal(err)
	}
	q := providerLogin(t, authURL, username, password)
	in, err := svc.SignIn.OIDCCallback(context.Background(), cookie, q.Get("state"), q.Get("code"))
	if err == nil && in.Redirect != "/roles" {
		t.Errorf("signed in to land on %q, want /roles", in.Redirect)
	}
	return in.WebCookie, err
}

// TestOIDCSignIn: a first sign-in creates the user, matched by subject,
// with the provider's groups (and admin from the admin group); a later
// sign-in follows the provider's groups; a replayed callback, a state that
// is not the sign-in's and a disabled user are refused, each recorded.
func TestOIDCSignIn(t *testing.T) {
	svc, p := oidcService(t)
	ctx := context.Background()
	web, err := signIn(t, svc, "ann", "ann-pw")
	if err != nil {
		t.Fatal(err)
	}
	who, _, err := svc.SignIn.WebSession(ctx, web)
	if err != nil || who.User != "ann" || !who.Admin {
		t.Fatalf("signed in as %+v, %v; want ann, an administrator", who, err)
	}
	u, err := svc.Reporting.store.User(ctx, "ann")
	if err != nil || u.Source != store.SourceOIDC || u.Subject != p.Issuer+"|u-ann" || u.LastSignIn.IsZero() {
		t.Errorf("ann = %+v, %v", u, err)
	}
	groups, _ := svc.Access.Groups(ctx, Admin)
	if !slices.Contains(groups["analysts"], "ann") || !slices.Contains(groups["dba"], "ann") {
		t.Errorf("groups after the first sign-in = %v", groups)
	}

	// The provider takes dba away: at the next sign-in ann leaves it and is
	// no longer an administrator.
	p.SetGroups("u-ann", "analysts")
	web2, err := signIn(t, svc, "ann", "ann-pw")
	if err != nil {
		t.Fatal(err)
	}
	if who, _, _ := svc.SignIn.WebSession(ctx, web2); who.User != "ann" || who.Admin {
		t.Errorf("after losing dba: %+v", who)
	}
	groups, _ = svc.Access.Groups(ctx, Admin)
	if slices.Contains(groups["dba"], "ann") || !slices.Contains(groups["analysts"], "ann") {
		t.Errorf("groups after the provider changed them = %v", groups)
	}
	// The earlier browser session follows the user as they are now.
	if who, _, _ := svc.SignIn.WebSession(ctx, web); who.Admin {
		t.Error("the first browser kept administrator rights")
	}

	// A name that is not a stile name is made one; no groups, no admin.
	if _, err := signIn(t, svc, "Bob.Smith", "bob-pw"); err != nil {
		t.Fatal(err)
	}
	if u, err := svc.Reporting.store.UserBySubject(ctx, p.Issuer+"|u-bob"); err != nil || u.Name != "bob.smith" || u.Admin {
		t.Errorf("bob = %+v, %v", u, err)
	}

	// Replaying a callback: its code was used.
	authURL, cookie, _ := svc.SignIn.OIDCStart(ctx, "//evil.example.com/")
	q := providerLogin(t, authURL, "ann", "ann-pw")
	if in, err := svc.SignIn.OIDCCallback(ctx, cookie, q.Get("state"), q.Get("code")); err != nil || in.Redirect != "/" {
		t.Fatalf("a sign-in asked to land off site: %+v, %v", in, err)
	}
	if _, err := svc.SignIn.OIDCCallback(ctx, cookie, q.Get("state"), q.Get("code")); !errs.Is(err, errs.Unauthorized) || !strings.Contains(err.Error(), "code was not accepted") {
		t.Errorf("a replayed callback: %v", err)
	}
	// A state that is not the one the cookie holds; no cookie at all.
	authURL, cookie, _ = svc.SignIn.OIDCStart(ctx, "")
	q = providerLogin(t, authURL, "ann", "ann-pw")
	if _, err := svc.SignIn.OIDCCallback(ctx, cookie, "forged-"+q.Get("state"), q.Get("code")); !errs.Is(err, errs.Unauthorized) {
		t.Errorf("a forged state: %v", err)
	}
	if _, err := svc.SignIn.OIDCCallback(ctx, "", q.Get("state"), q.Get("code")); !errs.Is(err, errs.Unauthorized) {
		t.Errorf("no sign-in cookie: %v", err)
	}
	// However much it is used, a provider's sign-in ends after SessionMax:
	// then the provider is asked again.
	now := time.Now
	svc.Reporting.now = func() time.Time { return now().Add(DefaultOIDCSessionMax + time.Minute) }
	if _, _, err := svc.SignIn.WebSession(ctx, web); err == nil {
		t.Error("a provider's sign-in outlived its maximum")
	}
	svc.Reporting.now = func() time.Time { return now().UTC() }
	// Disabled in stile: refused, and the open browser sessions end.
	if err := svc.Access.SetUserDisabled(ctx, Principal{User: "admin", Admin: true}, "ann", true); err != nil {
		t.Fatal(err)
	}
	if _, err := signIn(t, svc, "ann", "ann-pw"); !errs.Is(err, errs.Unauthorized) {
		t.Errorf("a disabled user signed in: %v", err)
	}
	if _, _, err := svc.SignIn.WebSession(ctx, web2); err == nil {
		t.Error("a disabled user's browser session still works")
	}

	var signIns, failed int
	list, _ := svc.Reporting.Sessions(ctx, Admin, store.SessionFilter{Kind: KindAccess, Limit: 1000})
	for _, s := range list {
		switch {
		case strings.Contains(s.Input, `"sign_in":"oidc"`) && s.Status == "ok":
			signIns++
		case strings.Contains(s.Input, `"sign_in":"oidc"`) && s.Status == "failed":
			failed++
		}
	}
	if signIns != 4 || failed != 2 {
		t.Errorf("access sessions: %d sign-ins and %d refused, want 4 and 2 (the replay, the disabled user)", signIns, failed)
	}
}

// TestIDTokenChecks: an ID token from the real provider verifies; the same
// token tampered with, one issued to another client, and one past its
// expiry are refused.
func TestIDTokenChecks(t *testing.T) {
	svc, p := oidcService(t)
	ctx := context.Background()
	idToken := func(clientID string) string {
		prov, err := oidc.NewProvider(ctx, p.Issuer)
		if err != nil {
			t.Fatal(err)
		}
		cfg := oauth2.Config{ClientID: clientID, ClientSecret: oidctest.ClientSecret, Endpoint: prov.Endpoint(), RedirectURL: callbackURL, Scopes: []string{oidc.ScopeOpenID}}
		verifier := oauth2.GenerateVerifier()
		q := providerLogin(t, cfg.AuthCodeURL(secret.NewToken(), oauth2.S256ChallengeOption(verifier)), "ann", "ann-pw")
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		return tok.Extra("id_token").(string)
	}
	raw := idToken(oidctest.ClientID)
	if idt, err := svc.SignIn.VerifyIDToken(ctx, raw); err != nil || idt.Subject != "u-ann" {
		t.Fatalf("a good token: %v", err)
	}
	parts := strings.Split(raw, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "u-ann", "u-bob", 1)))
	if _, err := svc.SignIn.VerifyIDToken(ctx, strings.Join(parts, ".")); !errs.Is(err, errs.Unauthorized) || !strings.Contains(err.Error(), "signature") {
		t.Errorf("a tampered token: %v", err)
	}
	if _, err := svc.SignIn.VerifyIDToken(ctx, idToken(oidctest.OtherClientID)); !errs.Is(err, errs.Unauthorized) || !strings.Contains(err.Error(), "audience") {
		t.Errorf("another client's token: %v", err)
	}
	svc.Reporting.now = func() time.Time { return time.Now().Add(3 * time.Hour) }
	if _, err := svc.SignIn.VerifyIDToken(ctx, raw); !errs.Is(err, errs.Unauthorized) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired token: %v", err)
	}
}

// TestOIDCWithoutGroups: a provider that sends no groups claim (Google)
// leaves the groups administrators gave its people as they are.
func TestOIDCWithoutGroups(t *testing.T) {
	svc, _ := oidcService(t)
	ctx := context.Background()
	id := Identity{Subject: "https://accounts.google.com|1234", Email: "gwen@example.com"}
	if _, _, err := svc.SignIn.OIDCSignIn(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, step := range []error{svc.Access.CreateGroup(ctx, Principal{User: "admin", Admin: true}, "ops"), svc.Access.SetMember(ctx, Principal{User: "admin", Admin: true}, "ops", "gwen", true)} {
		if step != nil {
			t.Fatal(step)
		}
	}
	if _, _, err := svc.SignIn.OIDCSignIn(ctx, id); err != nil {
		t.Fatal(err)
	}
	if g, _ := svc.Access.Groups(ctx, Admin); !slices.Contains(g["ops"], "gwen") {
		t.Errorf("a sign-in without a groups claim took gwen out of ops: %v", g)
	}
	// A person called admin at the provider is not the admin token.
	if _, _, err := svc.SignIn.OIDCSignIn(ctx, Identity{Subject: "x|9", Username: "Admin"}); err != nil {
		t.Fatal(err)
	}
	if u, err := svc.Reporting.store.UserBySubject(ctx, "x|9"); err != nil || u.Name != "admin-2" {
		t.Errorf("the provider's admin = %+v, %v; want admin-2", u, err)
	}
	// With the claim, even empty, the provider decides.
	id.GroupsKnown = true
	if _, _, err := svc.SignIn.OIDCSignIn(ctx, id); err != nil {
		t.Fatal(err)
	}
	if g, _ := svc.Access.Groups(ctx, Admin); slices.Contains(g["ops"], "gwen") {
		t.Errorf("an empty groups claim left gwen in ops: %v", g)
	}
}

package service

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// OIDCConfig says how people sign in to the web app with the company's
// identity provider (OpenID Connect, authorization code flow with PKCE).
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is the web app's callback as the provider knows it:
	// PUBLIC_URL/auth/oidc/callback.
	RedirectURL string
	// Name is the provider's name on the sign-in button.
	Name string
	// Scopes asked for besides openid (default profile, email).
	Scopes []string
	// GroupsClaim names the claim that lists a person's groups (default
	// "groups"); AdminGroup is the provider group whose members are stile
	// administrators ("" : none).
	GroupsClaim string
	AdminGroup  string
	// GroupMap maps provider groups to stile groups; when it is set, the
	// provider groups it does not name are ignored. Empty: groups are
	// taken as they are (those that are valid stile names).
	GroupMap map[string]string
	// SessionMax ends a web sign-in made through the provider however
	// much it is used (default DefaultOIDCSessionMax): a person disabled
	// at the provider loses the web app by then at the latest.
	SessionMax time.Duration
}

// DefaultOIDCSessionMax is how long a provider's sign-in lasts at most.
const DefaultOIDCSessionMax = 8 * time.Hour

// oidcLoginTTL bounds a sign-in in progress: the state, nonce and PKCE
// verifier live in a sealed cookie this long.
const oidcLoginTTL = 10 * time.Minute

// oidcClient is the discovered provider, made at the first sign-in (a
// provider down when the server starts must not stop it).
type oidcClient struct {
	mu       sync.Mutex
	provider *oidc.Provider
}

func (s *SignIn) oidcProvider(ctx context.Context) (*oidc.Provider, error) {
	s.oidcClient.mu.Lock()
	defer s.oidcClient.mu.Unlock()
	if s.oidcClient.provider != nil {
		return s.oidcClient.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, s.oidcHTTP), s.oidc.Issuer)
	if err != nil {
		return nil, errs.New(errs.Unavailable, "the identity provider at %s does not answer: %v", s.oidc.Issuer, err)
	}
	s.oidcClient.provider = p
	return p, nil
}

// OIDCName is the identity provider's name for the sign-in page, "" when
// sign-in with a provider is off.
func (s *SignIn) OIDCName() string {
	if s.oidc == nil {
		return ""
	}
	return s.oidc.Name
}

func (s *SignIn) oauth2Config(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: s.oidc.ClientID, ClientSecret: s.oidc.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: s.oidc.RedirectURL, Scopes: append([]string{oidc.ScopeOpenID}, s.oidc.Scopes...)}
}

// oidcLogin is a sign-in in progress, sealed into the browser's cookie:
// the web app's (Next, the page to land on) or the CLI's (stile login).
type oidcLogin struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Expires  time.Time `json:"expires"`
	Next     string    `json:"next,omitempty"`
	CLI      *cliLogin `json:"cli,omitempty"`
}

const oidcLoginAD = "stile oidc login"

// OIDCStart begins a web sign-in that lands on next (a path of the web
// app; "/" when empty): it returns the provider's authorization URL (with
// state, nonce and a PKCE S256 challenge) and the sealed cookie that holds
// them until the callback.
func (s *SignIn) OIDCStart(ctx context.Context, next string) (authURL, cookie string, err error) {
	return s.oidcStart(ctx, LocalPath(next), nil)
}

// LocalPath is next when it is a path of this site, else "/": a sign-in
// never sends a browser elsewhere.
func LocalPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *SignIn) oidcStart(ctx context.Context, next string, cli *cliLogin) (authURL, cookie string, err error) {
	if s.oidc == nil {
		return "", "", errs.New(errs.NotFound, "sign-in with an identity provider is not set up (stile server --oidc-issuer)")
	}
	p, err := s.oidcProvider(ctx)
	if err != nil {
		return "", "", err
	}
	l := oidcLogin{State: secret.NewToken(), Nonce: secret.NewToken(), Verifier: oauth2.GenerateVerifier(), Expires: s.now().Add(oidcLoginTTL), Next: next, CLI: cli}
	data, _ := json.Marshal(l)
	cookie = s.box.Seal(string(data), oidcLoginAD)
	return s.oauth2Config(p).AuthCodeURL(l.State, oidc.Nonce(l.Nonce), oauth2.S256ChallengeOption(l.Verifier)), cookie, nil
}

// Identity is who the provider says signed in.
type Identity struct {
	// Subject is the issuer and the provider's subject: what a person is
	// matched by.
	Subject  string
	Username string
	Email    string
	Groups   []string
	// GroupsKnown says the provider sent the groups claim (Google, for
	// one, sends none): without it, the person's stile groups and admin
	// flag are left as administrators set them.
	GroupsKnown bool
}

// SignedIn is where a finished sign-in goes: a web session (its cookie and
// CSRF token) and the page to land on, or, for the CLI, its loopback URL.
type SignedIn struct {
	WebCookie, CSRF string
	Redirect        string
}

// OIDCCallback finishes a sign-in: it checks the state against the sealed
// cookie, exchanges the code (with the PKCE verifier), verifies the ID
// token (signature, issuer, audience, expiry, nonce), then signs the person
// in (OIDCSignIn). Every refusal after the cookie checks out is a failed
// access session.
func (s *SignIn) OIDCCallback(ctx context.Context, cookie, state, code string) (SignedIn, error) {
	if s.oidc == nil {
		return SignedIn{}, errs.New(errs.NotFound, "sign-in with an identity provider is not set up")
	}
	var l oidcLogin
	raw, err := s.box.Open(cookie, oidcLoginAD)
	if err != nil || json.Unmarshal([]byte(raw), &l) != nil {
		s.signInFailed(ctx)
		return SignedIn{}, errs.New(errs.Unauthorized, "this sign-in was not started here, or was used already: sign in again")
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(l.State)) != 1 || s.now().After(l.Expires) {
		s.signInFailed(ctx)
		return SignedIn{}, errs.New(errs.Unauthorized, "this sign-in expired or does not match its start: sign in again")
	}
	id, err := s.oidcIdentity(ctx, code, l)
	if err != nil {
		s.signInFailed(ctx)
		s.recordFailedSignIn(ctx, err)
		return SignedIn{}, err
	}
	if l.CLI != nil {
		u, err := s.oidcUser(ctx, id)
		if err != nil {
			return SignedIn{}, err
		}
		return SignedIn{Redirect: s.cliRedirect(u.Name, l.CLI)}, nil
	}
	web, csrf, err := s.OIDCSignIn(ctx, id)
	return SignedIn{WebCookie: web, CSRF: csrf, Redirect: cmp.Or(l.Next, "/")}, err
}

// oidcIdentity exchanges the code and verifies what comes back. Claims the
// ID token lacks (a username, the groups) are read from the userinfo
// endpoint, whose subject must be the token's.
func (s *SignIn) oidcIdentity(ctx context.Context, code string, l oidcLogin) (Identity, error) {
	refuse := func(format string, args ...any) (Identity, error) {
		return Identity{}, errs.New(errs.Unauthorized, "the identity provider's answer was refused: "+format, args...)
	}
	p, err := s.oidcProvider(ctx)
	if err != nil {
		return Identity{}, err
	}
	hctx := oidc.ClientContext(ctx, s.oidcHTTP)
	tok, err := s.oauth2Config(p).Exchange(hctx, code, oauth2.VerifierOption(l.Verifier))
	if err != nil {
		return refuse("the code was not accepted (%v)", oauthError(err))
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return refuse("no ID token")
	}
	idt, err := s.VerifyIDToken(hctx, rawID)
	if err != nil {
		return Identity{}, err
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(l.Nonce)) != 1 {
		return refuse("the ID token's nonce is not this sign-in's")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return refuse("unreadable claims: %v", err)
	}
	groupsClaim := s.groupsClaim()
	if _, hasGroups := claims[groupsClaim]; claims["preferred_username"] == nil || !hasGroups {
		info, err := p.UserInfo(hctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return refuse("userinfo: %v", err)
		}
		if info.Subject != idt.Subject {
			return refuse("userinfo is about another subject")
		}
		more := map[string]any{}
		if err := info.Claims(&more); err != nil {
			return refuse("unreadable userinfo: %v", err)
		}
		for k, v := range more {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	id := Identity{Subject: idt.Issuer + "|" + idt.Subject}
	id.Username, _ = claims["preferred_username"].(string)
	id.Email, _ = claims["email"].(string)
	_, id.GroupsKnown = claims[groupsClaim]
	switch g := claims[groupsClaim].(type) {
	case []any:
		for _, v := range g {
			if name, ok := v.(string); ok {
				id.Groups = append(id.Groups, name)
			}
		}
	case string:
		id.Groups = strings.Fields(strings.ReplaceAll(g, ",", " "))
	}
	return id, nil
}

// VerifyIDToken checks an ID token as the callback does: its signature
// against the provider's keys, its issuer, that its audience is stile's
// client, and that it has not expired (by the service's clock).
func (s *SignIn) VerifyIDToken(ctx context.Context, raw string) (*oidc.IDToken, error) {
	p, err := s.oidcProvider(ctx)
	if err != nil {
		return nil, err
	}
	idt, err := p.VerifierContext(oidc.ClientContext(ctx, s.oidcHTTP), &oidc.Config{ClientID: s.oidc.ClientID, Now: s.now}).Verify(ctx, raw)
	if err != nil {
		return nil, errs.New(errs.Unauthorized, "the identity provider's ID token was refused: %v", err)
	}
	return idt, nil
}

func (s *SignIn) groupsClaim() string {
	if s.oidc.GroupsClaim == "" {
		return "groups"
	}
	return s.oidc.GroupsClaim
}

// oauthError is the provider's own words for a refused exchange.
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		return strings.TrimSpace(re.ErrorCode + " " + re.ErrorDescription)
	}
	return err.Error()
}

// OIDCSignIn signs in a person the provider vouched for: found by subject,
// or created just in time (named after their username or email, made
// unique); disabled users are refused. Their stile groups become their
// provider groups (mapped), creating groups as needed and removing them
// from the others, which closes the connections those gave; they are an
// administrator exactly when in the admin group. Every change is an access
// session, and so is the sign-in.
func (s *SignIn) OIDCSignIn(ctx context.Context, id Identity) (webCookie, csrf string, err error) {
	u, err := s.oidcUser(ctx, id)
	if err != nil {
		return "", "", err
	}
	w := store.WebSession{CSRF: secret.NewToken(), Expires: s.now().Add(WebSessionTTL), User: u.Name,
		NotAfter: s.now().Add(cmp.Or(s.oidc.SessionMax, DefaultOIDCSessionMax))}
	webCookie = secret.NewToken()
	w.IDHash = secret.TokenHash(webCookie)
	return webCookie, w.CSRF, s.store.CreateWebSession(ctx, w)
}

// oidcUser finds or makes the person, brings their groups and admin flag
// in line with the provider, and records the sign-in.
func (s *SignIn) oidcUser(ctx context.Context, id Identity) (store.User, error) {
	u, err := s.store.UserBySubject(ctx, id.Subject)
	// The admin group decides who is an administrator; without one, an
	// administrator says (stile users create --admin), as for local users.
	admin := u.Admin
	if s.oidc.AdminGroup != "" && id.GroupsKnown {
		admin = slices.Contains(id.Groups, s.oidc.AdminGroup)
	}
	switch {
	case errs.Is(err, errs.NotFound):
		if u, err = s.createOIDCUser(ctx, id, admin); err != nil {
			return u, err
		}
	case err != nil:
		return u, err
	case u.Disabled:
		s.recordFailedSignIn(ctx, fmt.Errorf("%s is disabled in stile", u.Name))
		return u, errs.New(errs.Unauthorized, "user %s is disabled", u.Name)
	}
	if err := s.store.SignedIn(ctx, u.Name, admin, s.now()); err != nil {
		return u, err
	}
	if admin != u.Admin {
		verb := map[bool]string{true: "made", false: "is no longer"}[admin]
		if err := s.recordAccess(ctx, "oidc", "", map[string]any{"user": u.Name, "admin": admin}, "%s %s an administrator (provider group %s)", u.Name, verb, s.oidc.AdminGroup); err != nil {
			return u, err
		}
	}
	if id.GroupsKnown {
		if err := s.syncGroups(ctx, u.Name, id.Groups); err != nil {
			return u, err
		}
	}
	return u, s.recordAccess(ctx, u.Name, "", map[string]any{"sign_in": "oidc", "user": u.Name, "groups": id.Groups}, "%s signed in with %s", u.Name, s.oidc.Name)
}

var notName = regexp.MustCompile(`[^a-z0-9._-]+`)

// reservedNames are the actors stile records for itself: no person the
// provider brings is named after one.
var reservedNames = []string{Admin.User, "web", "oidc", "stile", "drift-check"}

// createOIDCUser makes the user a first sign-in brings.
func (s *SignIn) createOIDCUser(ctx context.Context, id Identity, admin bool) (store.User, error) {
	base := id.Username
	if base == "" {
		base, _, _ = strings.Cut(id.Email, "@")
	}
	base = strings.Trim(notName.ReplaceAllString(strings.ToLower(base), "-"), "-._")
	if base == "" {
		base = "user"
	}
	base = base[:min(len(base), 56)]
	for n := 1; n < 100; n++ {
		name := base
		if n > 1 {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		if slices.Contains(reservedNames, name) {
			continue
		}
		u := store.User{Name: name, Admin: admin, CreatedAt: s.now(), Source: store.SourceOIDC, Subject: id.Subject}
		err := s.store.CreateUser(ctx, u)
		if errs.Is(err, errs.Conflict) {
			// The name is taken, or another replica made this person a
			// moment ago.
			if other, err := s.store.UserBySubject(ctx, id.Subject); err == nil {
				return other, nil
			}
			continue
		}
		if err != nil {
			return u, err
		}
		return u, s.recordAccess(ctx, "oidc", "", map[string]any{"create_user": name, "admin": admin, "source": store.SourceOIDC},
			"%s signed in with %s for the first time: user %s created", id.Username, s.oidc.Name, name)
	}
	return store.User{}, errs.New(errs.Conflict, "no free user name for %q", base)
}

// syncGroups makes user's groups the provider's (mapped).
func (s *SignIn) syncGroups(ctx context.Context, user string, provider []string) error {
	want := map[string]bool{}
	for _, g := range provider {
		if len(s.oidc.GroupMap) > 0 {
			g = s.oidc.GroupMap[g]
		}
		if checkName("group", g) == nil {
			want[g] = true
		}
	}
	groups, err := s.store.Groups(ctx)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(want))
	for g := range want {
		names = append(names, g)
	}
	slices.Sort(names)
	for _, g := range names {
		if _, ok := groups[g]; !ok {
			if err := s.access.CreateGroup(ctx, system("oidc"), g); err != nil && !errs.Is(err, errs.Conflict) {
				return err
			}
		}
		if !slices.Contains(groups[g], user) {
			if err := s.access.SetMember(ctx, system("oidc"), g, user, true); err != nil {
				return err
			}
		}
	}
	for g, members := range groups {
		if !want[g] && slices.Contains(members, user) {
			if err := s.access.SetMember(ctx, system("oidc"), g, user, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordFailedSignIn records a refused sign-in through the provider.
func (s *SignIn) recordFailedSignIn(ctx context.Context, why error) {
	now := s.now()
	in, _ := json.Marshal(map[string]any{"sign_in": "oidc"})
	if src, ok := sourceOf(ctx); ok {
		in, _ = json.Marshal(map[string]any{"sign_in": "oidc", "source": src.addr})
	}
	sess := store.Session{SID: newSID(), Kind: KindAccess, Actor: "oidc", CreatedAt: now, FinishedAt: now, Replica: s.replica,
		Status: "failed", ExitCode: 1, Message: "sign-in refused: " + why.Error(), Input: string(in), Output: why.Error() + "\n"}
	if err := s.store.CreateSessions(context.WithoutCancel(ctx), sess); err != nil {
		s.log.Error("record a refused sign-in", "err", err)
		return
	}
	s.emit(sess)
}

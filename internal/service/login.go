package service

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// stile login: the CLI signs in through the web app's sign-in with the
// identity provider, as gh and tsh do, and gets a token that expires. Two
// ways, neither needing another client at the provider:
//
//   - loopback (a browser on this machine): the CLI listens on a loopback
//     port and opens PUBLIC_URL/auth/cli with that port, a PKCE challenge
//     and a state; after the provider's sign-in the browser is sent to the
//     CLI's port with a one-minute code, which the CLI trades, with its
//     PKCE verifier, for the token (POST /api/v1/auth/cli-token).
//   - device (--device, no browser here): the CLI asks for a device login
//     (POST /api/v1/auth/device) and shows a user code and a URL; a person
//     signed in to the web app anywhere approves it; the CLI, polling
//     (POST /api/v1/auth/device/token), gets the token.

// cliLogin is what the CLI's loopback sign-in carries through the provider.
type cliLogin struct {
	Port      int    `json:"port"`
	Challenge string `json:"challenge"`
	State     string `json:"state"`
}

// cliCode is the one-minute code the browser brings the CLI, sealed.
type cliCode struct {
	User      string    `json:"user"`
	Challenge string    `json:"challenge"`
	Expires   time.Time `json:"expires"`
}

const cliCodeAD = "stile cli code"

// OIDCStartCLI begins a loopback sign-in for the CLI listening on
// 127.0.0.1:port.
func (s *SignIn) OIDCStartCLI(ctx context.Context, port, challenge, state string) (authURL, cookie string, err error) {
	n, err := strconv.Atoi(port)
	if err != nil || n < 1024 || n > 65535 {
		return "", "", errs.Invalidf("port %q is not a loopback port the CLI could listen on", port)
	}
	if len(challenge) < 43 || state == "" {
		return "", "", errs.Invalidf("the CLI's sign-in needs a PKCE S256 challenge and a state")
	}
	return s.oidcStart(ctx, "", &cliLogin{Port: n, Challenge: challenge, State: state})
}

// cliRedirect is where the browser goes after a loopback sign-in: the
// CLI's port, with the code it trades for a token.
func (s *SignIn) cliRedirect(user string, c *cliLogin) string {
	data, _ := json.Marshal(cliCode{User: user, Challenge: c.Challenge, Expires: s.now().Add(time.Minute)})
	code := s.box.Seal(string(data), cliCodeAD)
	return fmt.Sprintf("http://127.0.0.1:%d/callback?code=%s&state=%s", c.Port, base64.RawURLEncoding.EncodeToString([]byte(code)), c.State)
}

// CLIToken trades a loopback sign-in's code, with the PKCE verifier only
// the CLI holds, for a token that expires.
func (s *SignIn) CLIToken(ctx context.Context, code, verifier string) (LoginToken, error) {
	refused := errs.New(errs.Unauthorized, "this sign-in code is not valid (it expired, or is not this CLI's): run stile login again")
	raw, err := base64.RawURLEncoding.DecodeString(code)
	if err != nil {
		s.signInFailed(ctx)
		return LoginToken{}, refused
	}
	opened, err := s.box.Open(string(raw), cliCodeAD)
	var c cliCode
	if err != nil || json.Unmarshal([]byte(opened), &c) != nil || s.now().After(c.Expires) {
		s.signInFailed(ctx)
		return LoginToken{}, refused
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(c.Challenge)) != 1 {
		s.signInFailed(ctx)
		return LoginToken{}, refused
	}
	return s.mintLoginToken(ctx, c.User, "the CLI (browser)")
}

// LoginToken is api.LoginToken (the wire type), kept here for the server side.
type LoginToken = api.LoginToken

// mintLoginToken makes user a token that expires with a provider's
// sign-in (--oidc-session-max), and records it.
func (s *SignIn) mintLoginToken(ctx context.Context, user, how string) (LoginToken, error) {
	u, err := s.store.User(ctx, user)
	if err != nil {
		return LoginToken{}, err
	}
	if u.Disabled {
		return LoginToken{}, errs.New(errs.Unauthorized, "user %s is disabled", user)
	}
	id, token := newUserToken()
	t := LoginToken{Token: token, ID: id, User: user, ExpiresAt: s.now().Add(cmp.Or(s.oidcSessionMax(), DefaultOIDCSessionMax))}
	k := store.Token{ID: t.ID, User: user, Hash: secret.TokenHash(t.Token), CreatedAt: s.now(), ExpiresAt: t.ExpiresAt}
	if err := s.store.CreateToken(ctx, k); err != nil {
		return LoginToken{}, err
	}
	return t, s.recordAccess(ctx, user, "", map[string]any{"sign_in": "cli", "user": user, "token": t.ID, "expires_at": t.ExpiresAt},
		"%s signed in to %s: token %s until %s", user, how, t.ID, t.ExpiresAt.Format(time.RFC3339))
}

func (s *SignIn) oidcSessionMax() time.Duration {
	if s.oidc == nil {
		return 0
	}
	return s.oidc.SessionMax
}

// DeviceStart is api.DeviceStart (the wire type), kept here for the server side.
type DeviceStart = api.DeviceStart

// deviceTTL is how long a device login waits for approval.
const deviceTTL = 10 * time.Minute

// StartDevice begins a device login.
func (s *SignIn) StartDevice(ctx context.Context) (DeviceStart, error) {
	if s.oidc == nil {
		return DeviceStart{}, errs.New(errs.NotFound, "sign-in with an identity provider is not set up (stile server --oidc-issuer)")
	}
	d := DeviceStart{DeviceCode: secret.NewToken(), UserCode: userCode(), ExpiresIn: int(deviceTTL / time.Second), Interval: 2}
	d.VerificationURI = strings.TrimSuffix(s.oidc.RedirectURL, "/auth/oidc/callback") + "/auth/device?user_code=" + d.UserCode
	err := s.store.CreateDeviceLogin(ctx, store.DeviceLogin{DeviceHash: secret.TokenHash(d.DeviceCode), UserCode: d.UserCode, Expires: s.now().Add(deviceTTL)})
	return d, err
}

// userCode is eight letters a person can read and type: XXXX-XXXX, without
// the ones easily mistaken (0/O, 1/I/L).
func userCode() string {
	const alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	b := make([]byte, 8)
	rand.Read(b)
	out := make([]byte, 0, 9)
	for i, c := range b {
		if i == 4 {
			out = append(out, '-')
		}
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}

// ApproveDevice lets the CLI waiting with userCode sign in as p.
func (s *SignIn) ApproveDevice(ctx context.Context, p Principal, code string) error {
	if p.User == Admin.User {
		return errs.New(errs.Forbidden, "the admin token is not a person: sign in as yourself to approve a CLI")
	}
	if err := s.store.ApproveDeviceLogin(ctx, code, p.User, s.now()); err != nil {
		return err
	}
	return s.recordAccess(ctx, p.User, "", map[string]any{"device_login": code, "user": p.User}, "%s approved the CLI sign-in %s", p.User, code)
}

// ErrPending says a device login waits for its approval.
var ErrPending = errs.New(errs.Conflict, "authorization_pending: the sign-in waits for its approval in a browser")

// DeviceToken is the CLI's poll: the token once the login is approved
// (once), ErrPending before.
func (s *SignIn) DeviceToken(ctx context.Context, deviceCode string) (LoginToken, error) {
	d, err := s.store.TakeDeviceLogin(ctx, secret.TokenHash(deviceCode), s.now())
	if err != nil {
		return LoginToken{}, errs.New(errs.Unauthorized, "expired_token: this device login expired or was used: run stile login --device again")
	}
	if d.Status != "approved" {
		return LoginToken{}, ErrPending
	}
	return s.mintLoginToken(ctx, d.User, "the CLI (device "+d.UserCode+")")
}

// Logout revokes the token p signed in with, when a sign-in minted it.
func (s *SignIn) Logout(ctx context.Context, p Principal) error {
	if p.tokenHash == "" {
		return nil
	}
	tokens, err := s.store.Tokens(ctx, p.User)
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if t.Hash == p.tokenHash && !t.ExpiresAt.IsZero() && t.RevokedAt.IsZero() {
			return s.access.revokeToken(ctx, p.User, t.ID)
		}
	}
	return nil
}

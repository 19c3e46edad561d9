package service

import (
	"context"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// WebSessionTTL is how long a web sign-in lasts without use.
const WebSessionTTL = 12 * time.Hour

// StartWebSession records a web sign-in and returns the cookie value and
// the session's CSRF token. token is the personal token the person signed in
// with, or "" for the admin token. Only hashes are stored, so every replica
// knows the session and a restart keeps it.
func (s *SignIn) StartWebSession(ctx context.Context, token string) (cookie, csrf string, err error) {
	w := store.WebSession{CSRF: secret.NewToken(), Expires: s.now().Add(WebSessionTTL)}
	p, err := s.Authenticate(ctx, token)
	if err != nil {
		return "", "", err
	}
	w.TokenHash = p.tokenHash // empty for the admin token
	cookie = secret.NewToken()
	w.IDHash = secret.TokenHash(cookie)
	return cookie, w.CSRF, s.store.CreateWebSession(ctx, w)
}

// WebSession returns who a live web sign-in acts as and its CSRF token, and
// extends it. A sign-in made with a personal token ends when that token is
// revoked or its user disabled, and follows the user's admin flag. It is
// errs.NotFound if there is no such sign-in.
func (s *SignIn) WebSession(ctx context.Context, cookie string) (Principal, string, error) {
	w, err := s.store.WebSession(ctx, secret.TokenHash(cookie), s.now().Add(WebSessionTTL))
	if err != nil {
		return Principal{}, "", err
	}
	if w.User != "" {
		// Signed in with the identity provider: the user as they are now,
		// until the provider must be asked again.
		u, err := s.store.User(ctx, w.User)
		if err != nil || u.Disabled || (!w.NotAfter.IsZero() && s.now().After(w.NotAfter)) {
			s.store.DeleteWebSession(ctx, w.IDHash)
			return Principal{}, "", errs.New(errs.NotFound, "%s may no longer sign in", w.User)
		}
		return Principal{User: u.Name, Admin: u.Admin}, w.CSRF, nil
	}
	if w.TokenHash == "" {
		return Admin, w.CSRF, nil
	}
	u, err := s.store.TokenUser(ctx, w.TokenHash)
	if err != nil || u.Disabled {
		s.store.DeleteWebSession(ctx, w.IDHash)
		return Principal{}, "", errs.New(errs.NotFound, "the token this browser signed in with no longer works")
	}
	return Principal{User: u.Name, Admin: u.Admin, tokenHash: w.TokenHash}, w.CSRF, nil
}

// EndWebSession signs a browser out.
func (s *SignIn) EndWebSession(ctx context.Context, cookie string) error {
	return s.store.DeleteWebSession(ctx, secret.TokenHash(cookie))
}

package service

import (
	"context"
	"time"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// WebSessionTTL is how long a web sign-in lasts without use.
const WebSessionTTL = 12 * time.Hour

// StartWebSession records a web sign-in and returns the cookie value and
// the session's CSRF token. Only the cookie's hash is stored, so every
// replica knows the session and a restart keeps it.
func (s *Service) StartWebSession(ctx context.Context) (cookie, csrf string, err error) {
	cookie, csrf = secret.NewToken(), secret.NewToken()
	err = s.store.CreateWebSession(ctx, store.WebSession{IDHash: agent.TokenHash(cookie), CSRF: csrf, Expires: s.now().Add(WebSessionTTL)})
	return cookie, csrf, err
}

// WebSession returns the CSRF token of a live web sign-in and extends it;
// errs.NotFound if there is none.
func (s *Service) WebSession(ctx context.Context, cookie string) (string, error) {
	w, err := s.store.WebSession(ctx, agent.TokenHash(cookie), s.now().Add(WebSessionTTL))
	return w.CSRF, err
}

// EndWebSession signs a browser out.
func (s *Service) EndWebSession(ctx context.Context, cookie string) error {
	return s.store.DeleteWebSession(ctx, agent.TokenHash(cookie))
}

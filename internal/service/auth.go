package service

import (
	"context"
	"strings"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// Who may do what, in one place: the API, the web sign-in and the
// PostgreSQL listener authenticate with Authenticate, and what a principal
// may see is decided here, next to the data.

// Principal is who a request acts as: the admin token, or a user through
// one of their personal tokens.
type Principal struct {
	User  string
	Admin bool
	// tokenHash is the hash of the personal token it acts by (empty for
	// the admin token): connections opened with it close when it is
	// revoked.
	tokenHash string
}

// Admin is the principal of the server's admin token.
var Admin = Principal{User: "admin", Admin: true}

// Authenticate resolves a bearer token (the API's Authorization header, the
// web sign-in form, the PostgreSQL listener's password) to a principal: the
// admin token (compared in constant time) is Admin, a user's personal token
// is that user. Anything else, and a disabled user's token, is
// errs.Unauthorized. Where ctx says the request came from (WithSource),
// failures from one source are counted and an administrator's token used
// from a new address raises an alert.
func (s *SignIn) Authenticate(ctx context.Context, token string) (Principal, error) {
	p, err := s.authenticate(ctx, token)
	switch {
	case errs.Is(err, errs.Unauthorized):
		s.signInFailed(ctx)
	case err == nil && p.tokenHash == "":
		s.signedIn(ctx, p, "admin")
	case err == nil:
		s.signedIn(ctx, p, p.User+":"+p.tokenHash[:16])
	}
	return p, err
}

func (s *SignIn) authenticate(ctx context.Context, token string) (Principal, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Principal{}, errs.New(errs.Unauthorized, "missing or wrong API token")
	}
	if s.adminToken != "" && secret.TokenEqual(token, s.adminToken) {
		return Admin, nil
	}
	return s.tokenPrincipal(ctx, token)
}

// tokenPrincipal resolves a personal access token. Unknown, revoked or a
// disabled user's tokens are errs.Unauthorized.
func (s *SignIn) tokenPrincipal(ctx context.Context, token string) (Principal, error) {
	hash := secret.TokenHash(token)
	u, err := s.store.TokenUser(ctx, hash)
	if err != nil {
		return Principal{}, errs.New(errs.Unauthorized, "missing or wrong API token")
	}
	if u.Disabled {
		return Principal{}, errs.New(errs.Unauthorized, "user %s is disabled", u.Name)
	}
	return Principal{User: u.Name, Admin: u.Admin, tokenHash: hash}, nil
}

// MaySee reports whether p may see session x of a role's history: an admin
// sees all; a member sees only their own connections and reveals.
func (p Principal) MaySee(x store.Session) bool {
	switch x.Kind {
	case KindConnect, KindReveal, KindRequest:
		return p.Admin || x.Actor == p.User
	}
	return p.Admin
}

// system is the principal of work stile does by itself (the drift check,
// the groups an identity provider says a person is in): an administrator
// named for what it is.
func system(name string) Principal { return Principal{User: name, Admin: true} }

// Authenticated is nil for anyone signed in, errs.Unauthorized for no one:
// the check of operations every person may call for themselves.
func (p Principal) Authenticated() error {
	if p.User == "" {
		return errs.New(errs.Unauthorized, "missing or wrong API token")
	}
	return nil
}

// MayAdminister is the one administrator check: nil for an administrator,
// errs.Forbidden for anyone else, errs.Unauthorized for no one. Every
// administrators' operation of the services calls it first; the HTTP layers
// call it too on a route the table marks admin, only so that a member is
// refused before a request body is read (403, not 400).
func (p Principal) MayAdminister() error {
	switch {
	case p.Admin:
		return nil
	case p.User == "":
		return errs.New(errs.Unauthorized, "missing or wrong API token")
	}
	return errs.New(errs.Forbidden, "%s is not an administrator", p.User)
}

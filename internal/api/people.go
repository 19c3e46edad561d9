package api

import "time"

// User is a person (or system) with personal access tokens.
type User struct {
	Name      string    `json:"name"`
	Admin     bool      `json:"admin"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	// Source is where the user comes from: local (made with stile users
	// create) or oidc (signed in with the identity provider, matched by
	// Subject: the issuer and the provider's subject).
	Source     string    `json:"source"`
	Subject    string    `json:"subject,omitempty"`
	LastSignIn time.Time `json:"last_sign_in,omitzero"`
}

// Approval is a member's request to connect to a role that needs an
// admin's approval.
type Approval struct {
	ID        string    `json:"id"`
	Role      string    `json:"role"`
	User      string    `json:"user"`
	Database  string    `json:"database"`
	Status    string    `json:"status"` // pending, approved, denied, used
	CreatedAt time.Time `json:"created_at"`
	DecidedBy string    `json:"decided_by,omitempty"`
}

// User sources.
const (
	SourceLocal = "local"
	SourceOIDC  = "oidc"
)

// Token is a personal access token as the API lists it: ids and dates,
// never the token or its hash.
type Token struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// ExpiresAt, when set, ends the token (those stile login mints).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// UserRequest is the body of POST /api/v1/users.
type UserRequest struct {
	Name  string `json:"name"`
	Admin bool   `json:"admin"`
}

// GroupRequest is the body of POST /api/v1/groups.
type GroupRequest struct {
	Name string `json:"name"`
}

package api

import (
	"time"

	"github.com/stile-dev/stile/internal/spec"
)

// Rotation is a role's password rotation schedule and its last attempt.
type Rotation struct {
	Role         string    `json:"role"`
	EverySeconds int64     `json:"every_seconds"`
	SetBy        string    `json:"set_by,omitempty"`
	SetAt        time.Time `json:"set_at"`
	LastAttempt  time.Time `json:"last_attempt,omitzero"`
	// LastError is why the last scheduled rotation failed or was skipped;
	// empty when it worked.
	LastError string `json:"last_error,omitempty"`
}

// RotationStatus is a role's password: when stile last set it, who
// revealed it since, its schedule and when it rotates next
// (GET /api/v1/roles/{name}/rotation).
type RotationStatus struct {
	Role string `json:"role"`
	// SetAt is when stile last set the password (zero: before this was
	// kept).
	SetAt time.Time `json:"set_at,omitzero"`
	// RevealedBy and RevealedAt name the last reveal since it was set: a
	// system outside stile may use it, so rotating it needs force.
	RevealedBy string    `json:"revealed_by,omitempty"`
	RevealedAt time.Time `json:"revealed_at,omitzero"`
	Schedule   *Rotation `json:"schedule,omitempty"`
	// Next is when the schedule rotates it (zero: no schedule).
	Next time.Time `json:"next,omitzero"`
}

// RotateOutcome is a rotation done: its plan and its apply
// (POST /api/v1/roles/{name}/rotate).
type RotateOutcome struct {
	Role     string `json:"role"`
	PlanSID  string `json:"plan_sid"`
	ApplySID string `json:"apply_sid"`
	Status   string `json:"status"`
}

// RotateRequest is the body of POST /api/v1/roles/{name}/rotate.
type RotateRequest struct {
	Force bool `json:"force"`
}

// ScheduleRequest is the body of PUT /api/v1/roles/{name}/rotation (0:
// no schedule).
type ScheduleRequest struct {
	EverySeconds int64 `json:"every_seconds"`
}

// Suggestion is a narrower declaration of a managed role drawn from what
// its connections through stile ran in the last Days days
// (GET /api/v1/roles/{name}/suggest): the scopes and table privileges its
// statements used, and what it holds and never used.
type Suggestion struct {
	Role  string    `json:"role"`
	Days  int       `json:"days"`
	Since time.Time `json:"since"`
	// Connections and Statements are what was read; Unreadable counts the
	// statements the parser refused or that were cut short when recorded.
	Connections int `json:"connections"`
	Statements  int `json:"statements"`
	Unreadable  int `json:"unreadable"`
	// Used is each scope (database.schema) and the table privileges used
	// in it; Outside lists tables used outside the role's scopes.
	Used    []ScopeUse `json:"used"`
	Outside []string   `json:"outside,omitempty"`
	// Current is the role's declaration; Suggested the narrower one (nil
	// when nothing was used: retire it, or wait for use).
	Current   spec.Role  `json:"current"`
	Suggested *spec.Role `json:"suggested,omitempty"`
	// UnusedPrivileges and UnusedScopes are held and never used;
	// NotJudged are privileges statements cannot show the use of
	// (REFERENCES, TRIGGER, MAINTAIN, CREATE, EXECUTE), kept as they are.
	UnusedPrivileges []string `json:"unused_privileges"`
	UnusedScopes     []string `json:"unused_scopes"`
	NotJudged        []string `json:"not_judged,omitempty"`
}

// ScopeUse is the table privileges used in one scope.
type ScopeUse struct {
	Scope      string   `json:"scope"`
	Privileges []string `json:"privileges"`
	Tables     int      `json:"tables"`
}

package api

import "time"

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

package api

import "time"

// Grant is a group's use of a resource role. A standing grant lets its
// members connect; an eligible one only lets them request a window
// (AccessRequest). Either may end by itself at Until.
type Grant struct {
	Role     string `json:"role"`
	Group    string `json:"group"`
	Eligible bool   `json:"eligible"`
	// Until, when set, ends the grant: stile removes it, closes the
	// connections that depended on it and records the expiry.
	Until     time.Time `json:"until,omitzero"`
	GrantedBy string    `json:"granted_by,omitempty"`
	GrantedAt time.Time `json:"granted_at,omitzero"`
}

// GrantRequest is the body of PUT /api/v1/access/{role}/{group} (none: a
// standing grant without end).
type GrantRequest struct {
	Eligible bool      `json:"eligible"`
	Until    time.Time `json:"until,omitzero"`
}

// AccessPolicy is what a request for a resource role needs: at most
// MaxSeconds long, a reason when ReasonRequired, Approvals approvals from
// members of the Approvers groups (administrators when none), never the
// requester's own; a request nobody decides expires after PendingSeconds.
type AccessPolicy struct {
	Role           string   `json:"role"`
	MaxSeconds     int64    `json:"max_seconds"`
	ReasonRequired bool     `json:"reason_required"`
	Approvers      []string `json:"approvers"`
	Approvals      int      `json:"approvals"`
	PendingSeconds int64    `json:"pending_seconds"`
	// Default says no policy was set for the role: these are stile's
	// defaults.
	Default bool `json:"default,omitempty"`
}

// Request statuses: pending until enough approvers approve (approved) or
// one denies (denied), nobody decides in time (expired) or the requester
// withdraws it (cancelled); an approved request's window ends (ended) at
// EndsAt or when an administrator revokes it.
const (
	RequestPending   = "pending"
	RequestApproved  = "approved"
	RequestDenied    = "denied"
	RequestExpired   = "expired"
	RequestCancelled = "cancelled"
	RequestEnded     = "ended"
)

// AccessRequest is a member's request to use a resource role they are
// eligible for, for a window of Seconds.
type AccessRequest struct {
	ID      string `json:"id"`
	Role    string `json:"role"`
	User    string `json:"user"`
	Reason  string `json:"reason,omitempty"`
	Seconds int64  `json:"seconds"`
	Status  string `json:"status"`
	// Approvals is how many approvals it needs (its policy's when it was
	// made); Reviews the decisions so far.
	Approvals int       `json:"approvals"`
	Reviews   []Review  `json:"reviews"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt ends a pending request nobody decided.
	ExpiresAt time.Time `json:"expires_at"`
	// StartsAt and EndsAt are the approved window.
	StartsAt time.Time `json:"starts_at,omitzero"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	// EndedBy says who ended it (an approver who denied, an administrator
	// who revoked, the requester who cancelled); empty when time did.
	EndedBy string `json:"ended_by,omitempty"`
}

// Approved counts r's approvals.
func (r AccessRequest) Approved() int {
	n := 0
	for _, rv := range r.Reviews {
		if rv.Approve {
			n++
		}
	}
	return n
}

// Review is one approver's decision on a request.
type Review struct {
	User    string    `json:"user"`
	Approve bool      `json:"approve"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// NewAccessRequest is the body of POST /api/v1/requests.
type NewAccessRequest struct {
	Role    string `json:"role"`
	Seconds int64  `json:"seconds"`
	Reason  string `json:"reason"`
}

// ReviewRequest is the body of POST /api/v1/requests/{id}/{decision}.
type ReviewRequest struct {
	Reason string `json:"reason"`
}

// MyAccess is what a member may use and until when: GET /api/v1/access/mine.
type MyAccess struct {
	Roles []MyRole `json:"roles"`
	// Requests are the member's requests, newest first.
	Requests []AccessRequest `json:"requests"`
}

// MyRole is one resource role a member may use or request.
type MyRole struct {
	Role string `json:"role"`
	// Standing says a grant lets them connect; Until ends the longest one.
	Standing bool      `json:"standing"`
	Eligible bool      `json:"eligible"`
	Until    time.Time `json:"until,omitzero"`
	// WindowEnds ends the approved request they may connect with now.
	WindowEnds time.Time `json:"window_ends,omitzero"`
}

package api

import "time"

// Campaign is a recertification: every standing grant at its start, each
// to be confirmed or revoked by its reviewers before DueAt; what is left
// then is revoked (OnDue "revoke") or flagged (OnDue "flag").
type Campaign struct {
	ID        string    `json:"id"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	DueAt     time.Time `json:"due_at"`
	OnDue     string    `json:"on_due"`
	// Status is open until the due date (or until every item is
	// decided), then closed.
	Status   string    `json:"status"`
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// Counts of its items by decision ("" is still to decide).
	Pending   int            `json:"pending"`
	Confirmed int            `json:"confirmed"`
	Revoked   int            `json:"revoked"`
	Flagged   int            `json:"flagged"`
	Items     []CampaignItem `json:"items,omitempty"`
}

// Campaign statuses and what is done with undecided items at the due date.
const (
	CampaignOpen   = "open"
	CampaignClosed = "closed"
	OnDueRevoke    = "revoke"
	OnDueFlag      = "flag"
)

// Item decisions.
const (
	ItemConfirmed = "confirmed"
	ItemRevoked   = "revoked"
	ItemFlagged   = "flagged"
)

// CampaignItem is one standing grant under review: a group's use of a
// role, its members and their last use at the campaign's start.
type CampaignItem struct {
	Role  string `json:"role"`
	Group string `json:"group"`
	// Members are the group's at the start, with their last use of the
	// role (zero: never through stile).
	Members []MemberUse `json:"members"`
	// LastUsed is the latest of the members' last uses.
	LastUsed time.Time `json:"last_used,omitzero"`
	// Reviewers are the groups whose members decide it (the role's
	// approvers); empty: administrators.
	Reviewers []string `json:"reviewers"`
	// Decision is "" until decided: confirmed, revoked, or flagged (left
	// undecided at the due date of a campaign that flags).
	Decision  string    `json:"decision,omitempty"`
	DecidedBy string    `json:"decided_by,omitempty"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	Note      string    `json:"note,omitempty"`
}

// MemberUse is a member of a group under review and their last use.
type MemberUse struct {
	User     string    `json:"user"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// NewCampaign is the body of POST /api/v1/campaigns.
type NewCampaign struct {
	DueSeconds int64  `json:"due_seconds"`
	OnDue      string `json:"on_due"`
}

// CampaignDecision is the body of POST /api/v1/campaigns/{id}/decisions:
// confirm or revoke these grants (each "ROLE/GROUP").
type CampaignDecision struct {
	Grants []string `json:"grants"`
	Revoke bool     `json:"revoke"`
	Note   string   `json:"note"`
}

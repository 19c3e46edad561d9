package store

import (
	"errors"
	"time"

	"github.com/stile-dev/stile/internal/api"
)

// Grant, AccessPolicy, AccessRequest and Review are the wire types, kept
// here for the server side.
type (
	Grant         = api.Grant
	AccessPolicy  = api.AccessPolicy
	AccessRequest = api.AccessRequest
	Review        = api.Review
)

// Request statuses.
const (
	RequestPending   = api.RequestPending
	RequestApproved  = api.RequestApproved
	RequestDenied    = api.RequestDenied
	RequestExpired   = api.RequestExpired
	RequestCancelled = api.RequestCancelled
	RequestEnded     = api.RequestEnded
)

// Rotation is api.Rotation: a role's rotation schedule and its last
// attempt.
type Rotation = api.Rotation

// Campaign, CampaignItem and MemberUse are the wire types of a
// recertification campaign.
type (
	Campaign     = api.Campaign
	CampaignItem = api.CampaignItem
	MemberUse    = api.MemberUse
)

// Campaign item decisions.
const (
	ItemConfirmed = api.ItemConfirmed
	ItemRevoked   = api.ItemRevoked
	ItemFlagged   = api.ItemFlagged
)

// RequestFilter narrows Requests. Zero fields match everything.
type RequestFilter struct {
	User, Role string
	// Status keeps the requests in any of these statuses.
	Status []string
	// DueBy keeps the pending requests that expire and the approved
	// windows that end at or before it.
	DueBy time.Time
	Limit int
}

// ErrNoChange, returned by an UpdateRequest change, leaves the request as
// it is (another replica changed it first).
var ErrNoChange = errors.New("no change")

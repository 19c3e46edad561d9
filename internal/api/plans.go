package api

import (
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
)

// PlanOutcome is one planned item.
type PlanOutcome struct {
	SID      string         `json:"sid"`
	Resource string         `json:"resource_name"`
	Label    string         `json:"role"`
	RoleName string         `json:"role_name"`
	Status   string         `json:"status"`
	Message  string         `json:"message"`
	Document *plan.Document `json:"document,omitempty"`
	// Requires lists roles of the same batch whose plans must be applied
	// before this one (it sets default privileges for them).
	Requires []string `json:"requires,omitempty"`
}

// PlanLine is one line of a streamed plan answer: an item's outcome, with
// its index in the request, as its resource's plan lands.
type PlanLine struct {
	Index int `json:"index"`
	PlanOutcome
}

// PlanRequest is the body of POST /api/v1/plans.
type PlanRequest struct {
	Items []spec.Role `json:"items"`
}

// DeclaredPlanRequest is the body of POST /api/v1/plans/declared: the
// resources whose declared roles to plan, all when empty.
type DeclaredPlanRequest struct {
	Resources []string `json:"resources"`
}

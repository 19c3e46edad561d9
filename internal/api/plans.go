package api

import (
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
)

// PlanOutcome is one planned item.
type PlanOutcome struct {
	SID      string        `json:"sid"`
	Resource string        `json:"resource_name"`
	Label    string        `json:"role"`
	RoleName string        `json:"role_name"`
	Status   string        `json:"status"`
	Message  string        `json:"message"`
	Document *PlanDocument `json:"document,omitempty"`
	// Requires lists roles of the same batch whose plans must be applied
	// before this one (it sets default privileges for them, or it is a
	// member of them).
	Requires []string `json:"requires,omitempty"`
	// Retire marks the plan of a role's removal: destructive.
	Retire bool `json:"retire,omitempty"`
}

// PlanDocument is a plan's document (plan.Document): the reference's
// fields, sql_plan and its checksum among them, and its blocks of steps as
// data, from which clients mark the destructive ones.
type PlanDocument = plan.Document

// PlanBlock is one block of a plan's steps, run in one transaction:
// database "" is the role-level block (plan.Block).
type PlanBlock = plan.Block

// PlanStep is one statement of a plan, why it is there, and whether it
// takes something away (plan.Step).
type PlanStep = plan.Step

// PlanStatus is the answer of GET /api/v1/plans/{sid}: the plan session
// and its document (nil when it has none, as a plan that never finished).
type PlanStatus struct {
	Session  Session       `json:"session"`
	Document *PlanDocument `json:"document"`
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
	// Documents asks for each outcome's document; without it the answer
	// is brief (sid, status, message, requires per item) and the
	// documents are read from GET /api/v1/plans/{sid} when wanted.
	Documents bool `json:"documents,omitempty"`
	// Prune adds the retirement of every role stile manages on the items'
	// resources that the items no longer declare; adopted roles only with
	// PruneAdopted. Their outcomes follow the items', marked retire.
	Prune        bool `json:"prune,omitempty"`
	PruneAdopted bool `json:"prune_adopted,omitempty"`
}

// DeclaredPlanRequest is the body of POST /api/v1/plans/declared: the
// resources whose declared roles to plan, all when empty.
type DeclaredPlanRequest struct {
	Resources []string `json:"resources"`
	// Documents: as PlanRequest's.
	Documents bool `json:"documents,omitempty"`
}

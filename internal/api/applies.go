package api

// ApplyOutcome is the result of one apply.
type ApplyOutcome struct {
	SID       string   `json:"sid"`
	PlanSID   string   `json:"plan_sid"`
	Resource  string   `json:"resource_name"`
	RoleName  string   `json:"role_name"`
	Status    string   `json:"status"`
	Message   string   `json:"message"`
	Committed []string `json:"committed,omitempty"`
	Output    string   `json:"output"`
	// Seconds is how long the apply ran on its cluster (not counting the
	// wait for the lock).
	Seconds float64 `json:"seconds,omitempty"`
}

// ApplyItem names one reviewed plan to apply.
type ApplyItem struct {
	Resource string `json:"resource_name"`
	PlanSID  string `json:"sid"`
}

// ApplyBatchRequest is the body of POST /api/v1/applies.
type ApplyBatchRequest struct {
	Items []ApplyItem `json:"items"`
}

// ApplyBatchLine is one line of POST /api/v1/applies's answer: one item's
// outcome, with Error when it did not apply.
type ApplyBatchLine struct {
	Index int `json:"index"`
	ApplyOutcome
	Error *Error `json:"error,omitempty"`
}

// ApplyRequest is the body of POST /api/v1/resources/{name}/apply.
type ApplyRequest struct {
	SID string `json:"sid"`
}

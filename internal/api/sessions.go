package api

import "time"

// Session is one audited operation with its full input and output.
type Session struct {
	SID        string    `json:"sid"`
	Kind       string    `json:"kind"`
	Resource   string    `json:"resource_name"`
	Role       string    `json:"role,omitempty"`
	Label      string    `json:"label,omitempty"`
	Actor      string    `json:"actor"`
	Agent      string    `json:"agent,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Status: running, then ok / failed (health), in-sync / out-of-sync /
	// failed (plan), applied / skipped / drift / failed (apply).
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	Message  string `json:"message,omitempty"`
	Input    string `json:"input"`
	Output   string `json:"output"`
	// Document is the plan document (JSON) of a plan session.
	Document string `json:"document,omitempty"`
	Checksum string `json:"checksum,omitempty"`
	// PlanSID is the plan an apply session applied; AppliedBy the apply
	// session that consumed a plan.
	PlanSID   string `json:"plan_sid,omitempty"`
	AppliedBy string `json:"applied_by,omitempty"`
	// Replica is the server replica that ran the session.
	Replica string `json:"replica,omitempty"`
	// ChainSeq and ChainHash place a finished session in the store's audit
	// chain (ChainHash); both are zero while it runs.
	ChainSeq  int64  `json:"chain_seq,omitempty"`
	ChainHash string `json:"chain_hash,omitempty"`
}

// ChainReport is what walking the chain found. OK is true when every
// finished session is in it, in order, unedited, and the last is the
// chain's recorded head.
type ChainReport struct {
	OK bool `json:"ok"`
	// Sessions is how many chained sessions were checked.
	Sessions int64 `json:"sessions"`
	// Head is the sequence number and hash of the chain's last session.
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
	// Since is when the chain began (sessions finished before it are not
	// in it).
	Since time.Time `json:"since,omitzero"`
	// Problem names the first break, in words, and SID the session there.
	Problem string `json:"problem,omitempty"`
	SID     string `json:"sid,omitempty"`
	Seq     int64  `json:"seq,omitempty"`
}

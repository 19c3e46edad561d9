package agent

import (
	"encoding/json"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/target"
)

// Version is the agent protocol and build version reported on connect. 2:
// applies are batches (JobApplyBatch) that report each job as it ends. 3:
// JobColumn, and connect jobs carry startup parameters (masking's column
// rules and read-only roles through remote agents).
const Version = "stile-agent/3"

// Job kinds an agent runs.
const (
	JobHealth     = "health"
	JobPlan       = "plan"
	JobApplyBatch = "apply_batch"
	JobCheckLogin = "check_login"
	JobScopes     = "scopes"
	JobColumn     = "column"
	JobConnect    = "connect"
	JobCancel     = "cancel"
)

// message is one WebSocket frame, in either direction: a job (server to
// agent), its progress and result (agent to server), or a heartbeat (agent
// to server).
type message struct {
	Type    string          `json:"type"` // job, progress, result, heartbeat
	ID      string          `json:"id,omitempty"`
	Kind    string          `json:"kind,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Error   *wireError      `json:"error,omitempty"`
}

// wireError carries an *errs.Error across the connection.
type wireError struct {
	Code    errs.Code `json:"code"`
	Message string    `json:"message"`
}

func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	return &wireError{Code: errs.CodeOf(err), Message: err.Error()}
}

func (w *wireError) err() error {
	if w == nil {
		return nil
	}
	return &errs.Error{Code: w.Code, Message: w.Message}
}

// batchProgress is the progress message of an apply batch: one job's report,
// sent as that job ends.
type batchProgress struct {
	Index  int          `json:"index"`
	Report apply.Report `json:"report"`
}

// columnJob asks an agent to name a result column.
type columnJob struct {
	Target   target.Target `json:"target"`
	Database string        `json:"database"`
	Table    uint32        `json:"table"`
	Attnum   int16         `json:"attnum"`
}

package agent

import (
	"encoding/json"
	"time"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/target"
)

// Version is the agent protocol and build version reported on connect. 2:
// applies are batches (JobApplyBatch) that report each job as it ends. 3:
// JobColumn, and connect jobs carry startup parameters (masking's column
// rules and read-only roles through remote agents).
const Version = "stile-agent/3"

// HeartbeatInterval is how often an agent says it is alive.
const HeartbeatInterval = 10 * time.Second

// Job kinds an agent runs.
const (
	JobHealth     = "health"
	JobPlan       = "plan"
	JobApplyBatch = "apply_batch"
	JobCheckLogin = "check_login"
	JobScopes     = "scopes"
	JobDiscover   = "discover"
	JobWhoCan     = "who_can"
	JobColumn     = "column"
	JobConnect    = "connect"
	JobCancel     = "cancel"
)

// WhoCanJob asks who holds a privilege on a table of the target's
// cluster.
type WhoCanJob struct {
	Target target.Target       `json:"target"`
	Query  inspect.WhoCanQuery `json:"query"`
}

// Message is one WebSocket frame, in either direction: a job (server to
// agent), its progress and result (agent to server), or a heartbeat (agent
// to server).
type Message struct {
	Type    string          `json:"type"` // job, progress, result, heartbeat
	ID      string          `json:"id,omitempty"`
	Kind    string          `json:"kind,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Error   *WireError      `json:"error,omitempty"`
}

// WireError carries an *errs.Error across the connection.
type WireError struct {
	Code    errs.Code `json:"code"`
	Message string    `json:"message"`
}

// ToWire returns err as it crosses the connection to the server (nil for
// nil): its code and text. PostgreSQL's own error, which the admin may read
// (errs.Postgres), crosses as errs.Failed (the target refused the work), so
// the server shows it as a local agent's would be; any other uncoded error
// crosses whole as errs.Internal, and the server logs it under the id that
// people see (errs.Public).
func ToWire(err error) *WireError {
	if err == nil {
		return nil
	}
	if _, ok := errs.Readable(err); !ok {
		if msg, ok := errs.Postgres(err); ok {
			return &WireError{Code: errs.Failed, Message: msg}
		}
	}
	return &WireError{Code: errs.CodeOf(err), Message: err.Error()}
}

// Err returns the error w carries as an *errs.Error, or nil for a nil w.
func (w *WireError) Err() error {
	if w == nil {
		return nil
	}
	return &errs.Error{Code: w.Code, Message: w.Message}
}

// BatchProgress is the progress message of an apply batch: one job's report,
// sent as that job ends.
type BatchProgress struct {
	Index  int          `json:"index"`
	Report apply.Report `json:"report"`
}

// ColumnJob asks an agent to name a result column.
type ColumnJob struct {
	Target   target.Target `json:"target"`
	Database string        `json:"database"`
	Table    uint32        `json:"table"`
	Attnum   int16         `json:"attnum"`
}

// ConnectJob asks an agent to open a database connection as a resource
// role and stream it back on a WebSocket of its own.
type ConnectJob struct {
	Stream   string        `json:"stream"`
	Target   target.Target `json:"target"`
	Database string        `json:"database"`
	// Params are startup parameters to send (default_transaction_read_only
	// for a read-only role), besides application_name.
	Params map[string]string `json:"params,omitempty"`
	// StreamURL is where to stream it when that is not the server the
	// agent is connected to: the advertised URL of the replica that waits.
	StreamURL string `json:"stream_url,omitempty"`
}

// CancelJob asks an agent to cancel the query running on one of its streams.
type CancelJob struct {
	Stream string `json:"stream"`
}

// Job payloads.
type (
	// PlanJob asks an agent to plan inputs against one catalog read.
	PlanJob struct {
		Target target.Target `json:"target"`
		Inputs []plan.Input  `json:"inputs"`
	}
	// LoginJob asks an agent whether a role can log in with a password.
	LoginJob struct {
		Target   target.Target `json:"target"`
		Role     string        `json:"role"`
		Password string        `json:"password"`
	}
	// HealthResult keeps the partial Health that goes with a failed check.
	HealthResult struct {
		Health inspect.Health `json:"health"`
		Err    *WireError     `json:"err,omitempty"`
	}
)

package agent

import (
	"encoding/json"

	"github.com/stile-dev/stile/internal/errs"
)

// Version is the agent protocol and build version reported on connect.
const Version = "stile-agent/1"

// Job kinds an agent runs.
const (
	JobHealth     = "health"
	JobPlan       = "plan"
	JobApply      = "apply"
	JobCheckLogin = "check_login"
	JobScopes     = "scopes"
	JobConnect    = "connect"
	JobCancel     = "cancel"
)

// message is one WebSocket frame, in either direction: a job (server to
// agent), its result (agent to server), or a heartbeat (agent to server).
type message struct {
	Type    string          `json:"type"` // job, result, heartbeat
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

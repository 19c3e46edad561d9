package api

import "time"

// AgentView is an agent as listed to clients.
type AgentView struct {
	Name      string    `json:"name"`
	Online    bool      `json:"online"`
	Builtin   bool      `json:"builtin,omitempty"`
	Version   string    `json:"version,omitempty"`
	LastSeen  time.Time `json:"last_heartbeat,omitzero"`
	Revoked   bool      `json:"revoked,omitempty"`
	Resources []string  `json:"resources"`
}

// AgentRequest is the body of POST /api/v1/agents.
type AgentRequest struct {
	Name string `json:"name"`
}

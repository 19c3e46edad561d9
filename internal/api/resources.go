package api

import (
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/spec"
)

// ResourceView is a resource as listed to clients: no secrets.
type ResourceView struct {
	spec.Resource
	Agent     string `json:"agent"`
	AdminSet  bool   `json:"admin_set"`
	AdminUser string `json:"admin_user,omitempty"`
	// Progress is the setup step reached: 1 inventory, 2 manage (admin
	// set), 3 provision (a role applied or in sync).
	Progress int    `json:"progress"`
	Stage    string `json:"stage"`
	Roles    int    `json:"roles"`
}

// ImportRow is one previewed inventory row.
type ImportRow struct {
	Line     int           `json:"line"`
	Name     string        `json:"name"`
	Action   string        `json:"action"`
	Changes  []string      `json:"changes,omitempty"`
	Error    string        `json:"error,omitempty"`
	Resource spec.Resource `json:"resource"`
}

// ImportResult is the preview of an inventory import and whether it was
// written.
type ImportResult struct {
	Rows    []ImportRow `json:"rows"`
	Written bool        `json:"written"`
}

// AdminResult is the outcome of setting one admin credential.
type AdminResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// HealthResult is a health check and its session.
type HealthResult struct {
	SID    string         `json:"sid"`
	Health inspect.Health `json:"health"`
}

// Import row actions (ImportRow.Action).
const (
	ActionNew       = "new"
	ActionUpdate    = "update"
	ActionUnchanged = "unchanged"
	ActionError     = "error"
)

// ImportRequest is the body of POST /api/v1/resources/import.
type ImportRequest struct {
	CSV    string `json:"csv"`
	DryRun bool   `json:"dry_run"`
}

// AdminRequest is the body of PUT /api/v1/resources/{name}/admin.
type AdminRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Agent    string `json:"agent"`
}

// AdminImportRequest is the body of POST /api/v1/admins/import.
type AdminImportRequest struct {
	CSV   string `json:"csv"`
	Agent string `json:"agent"`
}

// Discovery is every role of a resource's cluster and what it holds
// (inspect.Discovery): GET /api/v1/resources/{name}/discover.
type Discovery = inspect.Discovery

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

// WhoCan is the answer of GET /api/v1/who-can: every role that holds a
// privilege on a table (or column), on each resource asked, with how; for
// the roles stile made, who may use them through stile.
type WhoCan struct {
	Query   inspect.WhoCanQuery `json:"query"`
	Holders []WhoCanHolder      `json:"holders"`
	// Errors names the resources that could not be asked, and why.
	Errors []string `json:"errors,omitempty"`
}

// WhoCanHolder is one role on one resource.
type WhoCanHolder struct {
	Resource string `json:"resource_name"`
	inspect.Holder
	// Stile is managed for a role stile made; then Masking lists its
	// masking rules (ids), and Groups and People who may use it through
	// stile: standing, or eligible (by request).
	Stile   string      `json:"stile"`
	Masking []string    `json:"masking,omitempty"`
	Groups  []GroupUse  `json:"groups,omitempty"`
	People  []PersonUse `json:"people,omitempty"`
}

// GroupUse is a group granted a resource role.
type GroupUse struct {
	Group    string `json:"group"`
	Eligible bool   `json:"eligible,omitempty"`
}

// PersonUse is a person who may use a resource role, and how.
type PersonUse struct {
	User     string `json:"user"`
	Eligible bool   `json:"eligible,omitempty"`
}

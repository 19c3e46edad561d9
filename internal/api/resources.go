package api

import (
	"encoding/csv"
	"io"
	"slices"
	"strings"

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

// Generated is the answer of GET /api/v1/resources/{name}/generate: a
// declaration that adopts the resource's roles as they are, as far as the
// model can say it, and what it cannot.
type Generated struct {
	Resource string      `json:"resource_name"`
	Items    []spec.Role `json:"items"`
	// Unexpressed lists, per role, what the declaration cannot say, and so
	// what planning it will change (Plan: grant, revoke, re-grant, reset)
	// or leave as it is (ignore).
	Unexpressed []Unexpressed `json:"unexpressed,omitempty"`
	// Skipped are the roles asked for that are not generated, and why.
	Skipped []Unexpressed `json:"skipped,omitempty"`
	// Errors names the databases discovery could not read.
	Errors []string `json:"errors,omitempty"`
}

// Unexpressed is one thing a generated declaration does not say.
type Unexpressed struct {
	Role string `json:"role_name"`
	What string `json:"what"`
	Plan string `json:"plan,omitempty"`
}

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

// How says how h holds the privilege, in words: superuser, owner,
// granted, column grant, PUBLIC, then "via ROLE" for each role it inherits
// it from.
func (h WhoCanHolder) How() []string {
	var out []string
	for word, on := range map[string]bool{"superuser": h.Superuser, "owner": h.Owner, "granted": h.Direct, "column grant": h.Column, "PUBLIC": h.Public} {
		if on {
			out = append(out, word)
		}
	}
	slices.Sort(out)
	for _, v := range h.Via {
		out = append(out, "via "+v)
	}
	return out
}

// WriteCSV writes the answer as CSV, a row per role and resource.
func (a WhoCan) WriteCSV(w io.Writer) error {
	yes := map[bool]string{true: "yes", false: "no"}
	eligible := map[bool]string{true: " (eligible)"}
	cw := csv.NewWriter(w)
	cw.Write([]string{"resource", "role", "how", "schema_usage", "rls", "stile", "masking", "groups", "people"})
	for _, h := range a.Holders {
		var groups, people []string
		for _, g := range h.Groups {
			groups = append(groups, g.Group+eligible[g.Eligible])
		}
		for _, u := range h.People {
			people = append(people, u.User+eligible[u.Eligible])
		}
		cw.Write([]string{h.Resource, h.Role, strings.Join(h.How(), "; "), yes[h.SchemaUsage], yes[h.RLS], h.Stile, strings.Join(h.Masking, "; "), strings.Join(groups, "; "), strings.Join(people, "; ")})
	}
	cw.Flush()
	return cw.Error()
}

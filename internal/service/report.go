package service

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/mask"
	"github.com/stile-dev/stile/internal/store"
)

// AccessReport is the access review (SOC 2 CC6, ISO 27001 A.5.18): for every
// resource role, what it can do and whether the cluster matches, who may
// use it and who approved that, and each person's last use.
type AccessReport struct {
	GeneratedAt time.Time `json:"generated_at"`
	GeneratedBy string    `json:"generated_by"`
	// Administrators may use every role (and the admin token can).
	Administrators []string           `json:"administrators"`
	Roles          []AccessReportRole `json:"roles"`
	// LastCampaign is the newest recertification campaign, with its
	// decisions (nil: none yet).
	LastCampaign *store.Campaign `json:"last_campaign,omitempty"`
}

// AccessReportRole is one resource role in the access review.
type AccessReportRole struct {
	Role       string   `json:"role"`
	Resource   string   `json:"resource_name"`
	Label      string   `json:"label"`
	Type       string   `json:"type"`
	Scopes     []string `json:"scopes,omitempty"`
	Privileges []string `json:"privileges,omitempty"`
	// SourceRole is the role an external role inherits.
	SourceRole string `json:"source_role,omitempty"`
	// MemberOf are the labels of the groups whose privileges it holds.
	MemberOf []string `json:"member_of,omitempty"`
	// Status is whether the cluster matched the declaration when last
	// planned (in-sync, out-of-sync, failed…), as of StatusAt.
	Status   string    `json:"status"`
	StatusAt time.Time `json:"status_at"`
	// AppliedBy applied the declaration, at AppliedAt, in session
	// ApplySID.
	AppliedBy        string              `json:"applied_by,omitempty"`
	AppliedAt        time.Time           `json:"applied_at,omitzero"`
	ApplySID         string              `json:"apply_sid,omitempty"`
	ApprovalRequired bool                `json:"approval_required"`
	Groups           []AccessReportGrant `json:"groups"`
	Users            []AccessReportUser  `json:"users"`
	// Approvals are the decided requests to connect to it, newest first.
	Approvals []store.Approval `json:"approvals"`
	// Requests are the requests for a window on it, newest first.
	Requests []store.AccessRequest `json:"requests"`
	// Masking and Guardrails are what stile enforces on its connections;
	// strict masking rules are enforced by PostgreSQL as well.
	Masking    []mask.Rule  `json:"masking"`
	Guardrails guard.Policy `json:"guardrails"`
}

// AccessReportGrant is a group's use of a role and who granted it.
type AccessReportGrant struct {
	Group     string    `json:"group"`
	GrantedBy string    `json:"granted_by,omitempty"`
	GrantedAt time.Time `json:"granted_at,omitzero"`
	// Eligible says members may only request the role; Until ends the
	// grant.
	Eligible bool      `json:"eligible,omitempty"`
	Until    time.Time `json:"until,omitzero"`
}

// AccessReportUser is a person who may use a role, through which groups,
// and their last use of it.
type AccessReportUser struct {
	User        string    `json:"user"`
	Disabled    bool      `json:"disabled,omitempty"`
	Via         []string  `json:"via"`
	LastUsed    time.Time `json:"last_used,omitzero"`
	Connections int64     `json:"connections"`
}

// AccessReport builds the access review of every applied resource role.
func (s *Reporting) AccessReport(ctx context.Context, p Principal) (AccessReport, error) {
	if err := p.MayAdminister(); err != nil {
		return AccessReport{}, err
	}
	rep := AccessReport{GeneratedAt: s.now(), GeneratedBy: p.User, Administrators: []string{"admin token"}, Roles: []AccessReportRole{}}
	var err error
	if rep.LastCampaign, err = s.lastCampaign(ctx); err != nil {
		return rep, err
	}
	roles, err := s.store.Roles(ctx, "")
	if err != nil {
		return rep, err
	}
	v, err := s.view(ctx)
	if err != nil {
		return rep, err
	}
	requests, err := s.store.Requests(ctx, store.RequestFilter{})
	if err != nil {
		return rep, err
	}
	users, err := s.store.Users(ctx)
	if err != nil {
		return rep, err
	}
	disabled := map[string]bool{}
	for _, u := range users {
		disabled[u.Name] = u.Disabled
		if u.Admin && !u.Disabled {
			rep.Administrators = append(rep.Administrators, u.Name)
		}
	}
	granted, err := s.grantHistory(ctx)
	if err != nil {
		return rep, err
	}
	approvals, err := s.store.Approvals(ctx, "")
	if err != nil {
		return rep, err
	}
	uses, err := s.store.LastUses(ctx, store.LastUseFilter{})
	if err != nil {
		return rep, err
	}
	type pair struct{ role, user string }
	lastUse := make(map[pair]store.LastUse, len(uses))
	for _, l := range uses {
		lastUse[pair{l.Role, l.User}] = l
	}
	for _, r := range roles {
		if r.PasswordCurrent == "" {
			continue // never applied: not a resource role
		}
		need, err := s.store.ApprovalRequired(ctx, r.RoleName)
		if err != nil {
			return rep, err
		}
		row := AccessReportRole{Role: r.RoleName, Resource: r.Resource, Label: r.Label, Type: cmp.Or(r.Spec.Type, "managed"),
			Scopes: r.Spec.Scopes, Privileges: r.Spec.Privileges, SourceRole: r.Spec.SourceRole, MemberOf: r.Spec.MemberOf, Status: r.Status, StatusAt: r.UpdatedAt,
			ApprovalRequired: need, Groups: []AccessReportGrant{}, Users: []AccessReportUser{}, Approvals: []store.Approval{}, Requests: []store.AccessRequest{}}
		if row.Masking, err = s.masking.MaskRules(ctx, p, r.RoleName); err != nil {
			return rep, err
		}
		if row.Guardrails, err = s.masking.Guardrails(ctx, p, r.RoleName); err != nil {
			return rep, err
		}
		if r.LastApplySID != "" {
			if a, err := s.store.Session(ctx, r.LastApplySID); err == nil {
				row.AppliedBy, row.AppliedAt, row.ApplySID = a.Actor, a.FinishedAt, a.SID
			}
		}
		via := map[string][]string{}
		for _, g := range v.byRole[r.RoleName] {
			row.Groups = append(row.Groups, AccessReportGrant{Group: g.Group, GrantedBy: cmp.Or(g.GrantedBy, granted[pair{r.RoleName, g.Group}].Actor),
				GrantedAt: cmp.Or(g.GrantedAt, granted[pair{r.RoleName, g.Group}].CreatedAt), Eligible: g.Eligible, Until: g.Until})
			for _, u := range v.groups[g.Group] {
				via[u] = append(via[u], g.Group)
			}
		}
		for u, gs := range via {
			l := lastUse[pair{r.RoleName, u}]
			row.Users = append(row.Users, AccessReportUser{User: u, Disabled: disabled[u], Via: gs, LastUsed: l.LastUsed, Connections: l.Connections})
		}
		slices.SortFunc(row.Users, func(a, b AccessReportUser) int { return cmp.Compare(a.User, b.User) })
		for _, a := range approvals {
			if a.Role == r.RoleName && a.Status != "pending" {
				row.Approvals = append(row.Approvals, a)
			}
		}
		for _, q := range requests {
			if q.Role == r.RoleName {
				row.Requests = append(row.Requests, q)
			}
		}
		rep.Roles = append(rep.Roles, row)
	}
	slices.SortFunc(rep.Roles, func(a, b AccessReportRole) int { return cmp.Compare(a.Role, b.Role) })
	return rep, nil
}

// grantHistory finds, for each (role, group), the access session of its
// latest grant: who granted it and when.
func (s *Reporting) grantHistory(ctx context.Context) (map[struct{ role, user string }]store.Session, error) {
	out := map[struct{ role, user string }]store.Session{}
	f := store.SessionFilter{Kind: KindAccess, Limit: 1000}
	for {
		page, err := s.store.Sessions(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, sess := range page {
			var in struct {
				Role  string `json:"role"`
				Grant string `json:"grant"`
			}
			if json.Unmarshal([]byte(sess.Input), &in) != nil || in.Grant == "" {
				continue
			}
			k := struct{ role, user string }{in.Role, in.Grant}
			if _, seen := out[k]; !seen { // newest first: the latest grant
				out[k] = sess
			}
		}
		if len(page) < f.Limit {
			return out, nil
		}
		f.Until = page[len(page)-1].CreatedAt
	}
}

// AccessReportCSVHeader and Rows flatten the report for a spreadsheet: one
// row per role and person who may use it (one row with no person for a
// role nobody but the administrators may use).
var AccessReportCSVHeader = []string{"role", "resource", "label", "type", "scopes", "privileges", "source_role", "cluster_status", "status_at",
	"applied_by", "applied_at", "approval_required", "user", "user_disabled", "via_groups", "granted_by", "last_used", "connections", "masking", "guardrails"}

// Rows is the report as CSV records (without the header).
func (r AccessReport) Rows() [][]string {
	var out [][]string
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, role := range r.Roles {
		protections := []string{MaskingSummary(role.Masking), GuardrailsSummary(role.Guardrails)}
		base := []string{role.Role, role.Resource, role.Label, role.Type, strings.Join(role.Scopes, " "), strings.Join(role.Privileges, " "),
			role.SourceRole, role.Status, when(role.StatusAt), role.AppliedBy, when(role.AppliedAt), strconv.FormatBool(role.ApprovalRequired)}
		if len(role.Users) == 0 {
			out = append(out, append(append(slices.Clone(base), "", "", "", "", "", ""), protections...))
			continue
		}
		grantedBy := map[string]string{}
		for _, g := range role.Groups {
			grantedBy[g.Group] = g.GrantedBy
		}
		for _, u := range role.Users {
			var by []string
			for _, g := range u.Via {
				by = append(by, g+":"+grantedBy[g])
			}
			out = append(out, append(append(slices.Clone(base), u.User, strconv.FormatBool(u.Disabled), strings.Join(u.Via, " "), strings.Join(by, " "),
				when(u.LastUsed), strconv.FormatInt(u.Connections, 10)), protections...))
		}
	}
	return out
}

// MaskingSummary is a role's masking rules in one line:
// "column:shop.public.customers.email:partial:strict detector:card:redact".
func MaskingSummary(rules []mask.Rule) string {
	parts := make([]string, 0, len(rules))
	for _, r := range rules {
		what := "column:" + r.Column
		if r.Detector != "" {
			what = "detector:" + r.Detector
		}
		what += ":" + r.Style
		if r.Strict {
			what += ":strict"
		}
		parts = append(parts, what)
	}
	return strings.Join(parts, " ")
}

// GuardrailsSummary is a role's guardrails in one line: "block:ddl,drop
// read_only".
func GuardrailsSummary(p guard.Policy) string {
	var parts []string
	if len(p.Block) > 0 {
		parts = append(parts, "block:"+strings.Join(p.Block, ","))
	}
	if p.ReadOnly {
		parts = append(parts, "read_only")
	}
	return strings.Join(parts, " ")
}

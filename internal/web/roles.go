package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/mask"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// actor is who acts, as the audit trail names them: the user signed in
// with a personal token, or "web" for the admin token.
func actor(r *http.Request) service.Principal {
	p := principal(r)
	if p.User == service.Admin.User {
		p.User = "web"
	}
	return p
}

// Roles lists the resource roles the signed-in person may use (all of
// them for administrators).
func (a *App) Roles(w http.ResponseWriter, r *http.Request, csrf string) {
	p := principal(r)
	list, err := a.svc.Access.ResourceRolesFor(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	mine, _, err := a.myAccess(r, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, "roles", map[string]any{"Title": "Resource roles", "Nav": "roles", "CSRF": csrf, "Roles": list,
		"Mine": mine, "Member": !p.Admin, "User": p.User})
}

// Role shows one resource role and its recent connections. Administrators
// also edit who may use it, whether it needs approval, reveal its password
// and retire it; a member sees how to connect and their own connections,
// and a role they may not use looks like one that does not exist.
func (a *App) Role(w http.ResponseWriter, r *http.Request, csrf string) {
	p := principal(r)
	// Roles p may not use are errs.NotFound too.
	rr, err := a.svc.Access.ResourceRoleFor(r.Context(), p, r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	all, err := a.svc.Reporting.Sessions(r.Context(), principal(r), store.SessionFilter{Resource: rr.Resource, Limit: 500})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var recent []store.Session
	for _, s := range all {
		shown := false
		switch s.Kind {
		case service.KindConnect, service.KindReveal, service.KindAccess, service.KindApproval, service.KindRequest:
			shown = p.MaySee(s)
		}
		if s.Role == rr.Name && shown && len(recent) < 50 {
			recent = append(recent, s)
		}
	}
	approval, err := a.svc.Access.ApprovalRequired(r.Context(), principal(r), rr.Name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	mine, requests, err := a.myAccess(r, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	policy, err := a.svc.Requests.Policy(r.Context(), p, rr.Name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var myRequests []store.AccessRequest
	for _, q := range requests {
		if q.Role == rr.Name {
			myRequests = append(myRequests, q)
		}
	}
	data := map[string]any{"Title": rr.Name, "Nav": "roles", "CSRF": csrf, "Role": rr, "Sessions": recent,
		"Approval": approval, "Member": !p.Admin, "User": p.User, "Mine": mine[rr.Name], "MyRequests": myRequests, "Policy": policy,
		"MaxMinutes": policy.MaxSeconds / 60, "PendingMinutes": policy.PendingSeconds / 60}
	if p.Admin {
		access, err := a.svc.Access.Access(r.Context(), principal(r))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		grants, err := a.svc.Access.Grants(r.Context(), principal(r))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		var roleGrants []store.Grant
		for _, g := range grants {
			if g.Role == rr.Name {
				roleGrants = append(roleGrants, g)
			}
		}
		data["Grants"] = roleGrants
		groups, err := a.svc.Access.Groups(r.Context(), principal(r))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		var others []string
		for g := range groups {
			if !slices.Contains(access[rr.Name], g) {
				others = append(others, g)
			}
		}
		slices.Sort(others)
		data["Groups"], data["OtherGroups"] = access[rr.Name], others
		u, err := a.svc.Reporting.SubjectUsage(r.Context(), principal(r), store.UsageRole, rr.Name, 30)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		data["Usage"] = u
		rules, err := a.svc.Masking.MaskRules(r.Context(), principal(r), rr.Name)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		data["MaskRules"], data["Detectors"] = rules, mask.Detectors
		rot, err := a.svc.Rotation.Status(r.Context(), principal(r), rr.Name)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		data["Rotation"] = rot
	}
	a.render(w, "role", data)
}

// RoleMasking adds a masking rule (column or detector=…, style) or, with
// remove=ID, removes one.
func (a *App) RoleMasking(w http.ResponseWriter, r *http.Request, _ string) {
	name := r.PathValue("name")
	var err error
	if id := r.FormValue("remove"); id != "" {
		err = a.svc.Masking.RemoveMaskRule(r.Context(), actor(r), name, id)
	} else {
		_, err = a.svc.Masking.AddMaskRule(r.Context(), actor(r), name, mask.Rule{Column: strings.TrimSpace(r.FormValue("column")),
			Detector: r.FormValue("detector"), Regex: r.FormValue("regex"), Style: r.FormValue("style"), Strict: r.FormValue("strict") != ""})
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/roles/"+name+"#masking", http.StatusSeeOther)
}

// Usage shows the fleet's use over a window (?days=7|30|90), and one
// person's (?user=NAME).
func (a *App) Usage(w http.ResponseWriter, r *http.Request, csrf string) {
	days := 30
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			a.fail(w, r, errs.Invalidf("days %q is not a number", v))
			return
		}
		days = n
	}
	rep, err := a.svc.Reporting.Usage(r.Context(), principal(r), days)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	data := map[string]any{"Title": "Usage", "Nav": "usage", "CSRF": csrf, "Report": rep, "Days": days}
	if user := r.URL.Query().Get("user"); user != "" {
		u, err := a.svc.Reporting.SubjectUsage(r.Context(), principal(r), store.UsageUser, user, days)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		data["UserName"], data["UserUsage"] = user, u
	}
	a.render(w, "usage", data)
}

// RoleAccess grants (group=G&on=1, eligible=1 for eligible only, until=a
// date) or revokes a group's use of a role.
func (a *App) RoleAccess(w http.ResponseWriter, r *http.Request, _ string) {
	name, group := r.PathValue("name"), r.FormValue("group")
	var err error
	if r.FormValue("on") != "1" {
		err = a.svc.Access.SetAccess(r.Context(), actor(r), name, group, false)
	} else {
		g := store.Grant{Role: name, Group: group, Eligible: r.FormValue("eligible") != ""}
		if v := r.FormValue("until"); v != "" {
			// A date input: the grant ends at the end of that day, UTC.
			day, perr := time.Parse("2006-01-02", v)
			if perr != nil {
				a.fail(w, r, errs.Invalidf("until %q is not a date", v))
				return
			}
			g.Until = day.AddDate(0, 0, 1)
		}
		err = a.svc.Access.Grant(r.Context(), actor(r), g)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/roles/"+name, http.StatusSeeOther)
}

// RoleApproval turns the approval requirement on (on=1) or off.
func (a *App) RoleApproval(w http.ResponseWriter, r *http.Request, _ string) {
	name := r.PathValue("name")
	if err := a.svc.Access.SetApprovalRequired(r.Context(), actor(r), name, r.FormValue("on") == "1"); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/roles/"+name, http.StatusSeeOther)
}

// RoleRotate rotates a role's password now (force=1 after a reveal), or
// with every=DAYS sets its schedule (0: none).
func (a *App) RoleRotate(w http.ResponseWriter, r *http.Request, _ string) {
	name := r.PathValue("name")
	var err error
	if v := r.FormValue("every_days"); v != "" {
		days, perr := strconv.Atoi(v)
		if perr != nil || days < 0 {
			a.fail(w, r, errs.Invalidf("every %q is not a number of days", v))
			return
		}
		_, err = a.svc.Rotation.SetSchedule(r.Context(), actor(r), name, time.Duration(days)*24*time.Hour)
	} else {
		_, err = a.svc.Rotation.Rotate(r.Context(), actor(r), name, r.FormValue("force") != "")
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/roles/"+name+"#rotation", http.StatusSeeOther)
}

// RoleSuggest shows, into the role's page, what its connections used in
// the last 90 days, what it holds and never used, and the narrower
// declaration with a button to plan it.
func (a *App) RoleSuggest(w http.ResponseWriter, r *http.Request, csrf string) {
	sug, err := a.svc.Reporting.Suggest(r.Context(), principal(r), r.PathValue("name"), 90)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, "role-suggest", map[string]any{"Suggestion": sug, "CSRF": csrf})
}

// RoleSuggestPlan plans the role's suggested declaration and shows the
// plan with its Apply button, as provisioning does.
func (a *App) RoleSuggestPlan(w http.ResponseWriter, r *http.Request, _ string) {
	sug, err := a.svc.Reporting.Suggest(r.Context(), principal(r), r.PathValue("name"), 90)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if sug.Suggested == nil {
		a.fail(w, r, errs.Invalidf("%s ran nothing in 90 days: there is no narrower declaration to plan", sug.Role))
		return
	}
	out, err := a.svc.Provisioning.Plan(r.Context(), actor(r), []spec.Role{*sug.Suggested})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.planResults(w, out)
}

// RoleReveal shows a role's password once, for systems that cannot connect
// through stile; the reveal is a session.
func (a *App) RoleReveal(w http.ResponseWriter, r *http.Request, _ string) {
	pw, err := a.svc.Provisioning.RevealPassword(r.Context(), actor(r), r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, "role-password", map[string]any{"Password": pw})
}

// RoleRetire plans a role's retirement and shows the plan with its Apply
// button (the same rows as provisioning).
func (a *App) RoleRetire(w http.ResponseWriter, r *http.Request, _ string) {
	out, err := a.svc.Provisioning.RetireRole(r.Context(), actor(r), r.PathValue("name"), r.FormValue("heir"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.planResults(w, []service.PlanOutcome{out})
}

// Approvals lists members' connection requests waiting for an
// administrator, and the recent decisions.
func (a *App) Approvals(w http.ResponseWriter, r *http.Request, csrf string) {
	all, err := a.svc.Access.Approvals(r.Context(), principal(r), "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var pending, decided []store.Approval
	for _, ap := range all {
		switch {
		case ap.Status == "pending":
			pending = append(pending, ap)
		case len(decided) < pageSize:
			decided = append(decided, ap)
		}
	}
	a.render(w, "approvals", map[string]any{"Title": "Approvals", "Nav": "approvals", "CSRF": csrf, "Pending": pending, "Decided": decided})
}

// Decide approves or denies one request as the signed-in administrator and
// goes back to the list.
func (a *App) Decide(w http.ResponseWriter, r *http.Request, _ string) {
	d := r.PathValue("decision")
	if d != "approve" && d != "deny" {
		a.fail(w, r, errs.New(errs.NotFound, "%q is not a decision: approve or deny", d))
		return
	}
	if err := a.svc.Access.Decide(r.Context(), principal(r), r.PathValue("id"), d == "approve"); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/approvals", http.StatusSeeOther)
}

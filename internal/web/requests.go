package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/store"
)

// timeLeft says how long until t from now ("1h 20m left"), or "ended".
func timeLeft(t time.Time) string {
	d := time.Until(t)
	if d <= 0 {
		return "ended"
	}
	return seconds(int64(d.Round(time.Second)/time.Second)) + " left"
}

// Requests is the requests page: the inbox of requests the signed-in
// person may review, their own requests, and (administrators) the recent
// others.
func (a *App) Requests(w http.ResponseWriter, r *http.Request, csrf string) {
	p := principal(r)
	inbox, err := a.svc.Requests.Inbox(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	mine, err := a.svc.Requests.List(r.Context(), p, store.RequestFilter{User: p.User, Limit: pageSize})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	data := map[string]any{"Title": "Requests", "Nav": "requests", "CSRF": csrf, "Inbox": inbox, "Mine": mine, "Member": !p.Admin, "User": p.User}
	if p.Admin {
		recent, err := a.svc.Requests.List(r.Context(), p, store.RequestFilter{Limit: pageSize})
		if err != nil {
			a.fail(w, r, err)
			return
		}
		data["Recent"] = recent
	}
	a.render(w, "requests", data)
}

// Request shows one request with what its viewer may do about it (the
// notification's links land here).
func (a *App) Request(w http.ResponseWriter, r *http.Request, csrf string) {
	p := principal(r)
	req, err := a.svc.Requests.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, "request", map[string]any{"Title": "Request " + req.ID, "Nav": "requests", "CSRF": csrf, "Request": req,
		"Action": r.URL.Query().Get("action"), "Member": !p.Admin, "User": p.User})
}

// RequestDecide approves, denies (an approver, with a reason) or cancels
// (the requester; an administrator ends anyone's window) a request.
func (a *App) RequestDecide(w http.ResponseWriter, r *http.Request, _ string) {
	p, id := principal(r), r.PathValue("id")
	var err error
	switch d := r.PathValue("decision"); d {
	case "approve", "deny":
		_, err = a.svc.Requests.Review(r.Context(), p, id, d == "approve", r.FormValue("reason"))
	case "cancel":
		_, err = a.svc.Requests.Cancel(r.Context(), p, id)
	default:
		err = errs.New(errs.NotFound, "%q is not a decision: approve, deny or cancel", d)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/requests/"+id, http.StatusSeeOther)
}

// RoleRequest files the signed-in member's request for a window on a
// role (for=a duration such as 30m or 2h, reason=…).
func (a *App) RoleRequest(w http.ResponseWriter, r *http.Request, _ string) {
	name := r.PathValue("name")
	d, err := time.ParseDuration(strings.TrimSpace(r.FormValue("for")))
	if err != nil {
		a.fail(w, r, errs.Invalidf("the window %q is not a length of time such as 30m or 2h", r.FormValue("for")))
		return
	}
	req, err := a.svc.Requests.Create(r.Context(), principal(r), name, d, r.FormValue("reason"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/requests/"+req.ID, http.StatusSeeOther)
}

// RolePolicy sets a role's request policy from the role page's form.
func (a *App) RolePolicy(w http.ResponseWriter, r *http.Request, _ string) {
	name := r.PathValue("name")
	num := func(field string) int64 {
		n, _ := strconv.ParseInt(r.FormValue(field), 10, 64)
		return n
	}
	var approvers []string
	for _, g := range strings.Split(r.FormValue("approvers"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			approvers = append(approvers, g)
		}
	}
	pol := store.AccessPolicy{Role: name, MaxSeconds: num("max_minutes") * 60, ReasonRequired: r.FormValue("reason_required") != "",
		Approvers: approvers, Approvals: int(num("approvals")), PendingSeconds: num("pending_minutes") * 60}
	if err := a.svc.Requests.SetPolicy(r.Context(), actor(r), pol); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/roles/"+name+"#policy", http.StatusSeeOther)
}

// myAccess is what the roles pages show a member of their own access.
func (a *App) myAccess(r *http.Request, p service.Principal) (map[string]service.MyRole, []store.AccessRequest, error) {
	m, err := a.svc.Requests.Mine(r.Context(), p)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]service.MyRole, len(m.Roles))
	for _, role := range m.Roles {
		out[role.Role] = role
	}
	return out, m.Requests, nil
}

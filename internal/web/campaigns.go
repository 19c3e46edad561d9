package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// Campaigns lists recertification campaigns (those with grants the person
// reviews), with the form administrators start one with.
func (a *App) Campaigns(w http.ResponseWriter, r *http.Request, csrf string) {
	p := principal(r)
	list, err := a.svc.Campaigns.List(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, "campaigns", map[string]any{"Title": "Recertification", "Nav": "campaigns", "CSRF": csrf, "Campaigns": list, "Member": !p.Admin, "User": p.User})
}

// CampaignStart opens a campaign (due_days, on_due).
func (a *App) CampaignStart(w http.ResponseWriter, r *http.Request, _ string) {
	days, err := strconv.Atoi(r.FormValue("due_days"))
	if err != nil || days < 1 {
		a.fail(w, r, errs.Invalidf("the due date is a number of days, not %q", r.FormValue("due_days")))
		return
	}
	c, err := a.svc.Campaigns.Start(r.Context(), actor(r), time.Duration(days)*24*time.Hour, r.FormValue("on_due"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/campaigns/"+c.ID, http.StatusSeeOther)
}

// Campaign shows a campaign's grants the person reviews, each with its
// members' last use, to confirm or revoke in bulk; ?unused=DAYS keeps
// those no member used for that many days before it started.
func (a *App) Campaign(w http.ResponseWriter, r *http.Request, csrf string) {
	p := principal(r)
	c, err := a.svc.Campaigns.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	unused, _ := strconv.Atoi(r.URL.Query().Get("unused"))
	if unused > 0 {
		since := c.CreatedAt.AddDate(0, 0, -unused)
		var keep []store.CampaignItem
		for _, it := range c.Items {
			if !it.LastUsed.After(since) {
				keep = append(keep, it)
			}
		}
		c.Items = keep
	}
	a.render(w, "campaign", map[string]any{"Title": "Campaign " + c.ID, "Nav": "campaigns", "CSRF": csrf, "Campaign": c, "Unused": unused, "Member": !p.Admin, "User": p.User})
}

// CampaignDecide confirms (decision=confirm) or revokes the grants ticked
// (grant=ROLE/GROUP, repeated).
func (a *App) CampaignDecide(w http.ResponseWriter, r *http.Request, _ string) {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		a.fail(w, r, errs.Invalidf("the form: %v", err))
		return
	}
	if _, err := a.svc.Campaigns.DecideGrants(r.Context(), actor(r), id, r.Form["grant"], r.FormValue("decision") == "revoke", r.FormValue("note")); err != nil {
		a.fail(w, r, err)
		return
	}
	back := "/campaigns/" + id
	if u := r.FormValue("unused"); u != "" && u != "0" {
		back += "?unused=" + u
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

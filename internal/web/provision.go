package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
)

// planRow is one role in the provisioning results.
type planRow struct {
	SID, RoleName, Resource, Target, Status, Message string
	// SessionSID is the apply's session once applied.
	SessionSID string
}

func target(r spec.Role) string {
	if r.SourceRole != "" {
		return "inherits " + r.SourceRole
	}
	return strings.Join(r.Scopes, ", ")
}

// Provision shows the resources ready for roles and the roles import.
func (a *App) Provision(w http.ResponseWriter, r *http.Request, csrf string) {
	list, err := a.svc.Inventory.ListResources(r.Context(), principal(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// The reference's Provision tab: resources with an admin and no
	// provisioned roles yet.
	var ready []service.ResourceView
	for _, res := range list {
		if res.AdminSet && res.Progress < 3 {
			ready = append(ready, res)
		}
	}
	a.render(w, "provision", map[string]any{"Title": "Provision", "Nav": "provision", "CSRF": csrf, "Ready": ready})
}

// ProvisionPreview validates a roles file row by row.
func (a *App) ProvisionPreview(w http.ResponseWriter, r *http.Request, csrf string) {
	text := uploaded(r)
	data := map[string]any{"CSV": text}
	items, err := spec.ParsePlanFile("plan file", []byte(text))
	if err != nil {
		data["Error"] = a.message(r, err)
		a.render(w, "roles-preview", data)
		return
	}
	rows, err := a.svc.Provisioning.PreviewRoles(r.Context(), principal(r), items)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	valid := true
	for _, row := range rows {
		valid = valid && row.Error == ""
	}
	data["Rows"], data["Valid"] = rows, valid
	a.render(w, "roles-preview", data)
}

// ProvisionPlan plans every role of a validated file.
func (a *App) ProvisionPlan(w http.ResponseWriter, r *http.Request, csrf string) {
	items, err := spec.ParsePlanFile("plan file", []byte(r.FormValue("csv")))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.svc.Provisioning.Plan(r.Context(), actor(r), items)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.planResults(w, out)
}

// planResults renders plan outcomes with their apply buttons.
func (a *App) planResults(w http.ResponseWriter, out []service.PlanOutcome) {
	rows := make([]planRow, len(out))
	pending := 0
	for i, o := range out {
		rows[i] = planRow{SID: o.SID, RoleName: o.RoleName, Resource: o.Resource, Status: o.Status, Message: o.Message}
		if o.Document != nil {
			rows[i].Target = target(spec.Role{Scopes: o.Document.Config.Scopes, SourceRole: o.Document.Config.SourceRole})
		}
		if o.Status == "out-of-sync" {
			pending++
		}
	}
	a.render(w, "plan-results", map[string]any{"Results": rows, "Pending": pending})
}

// apply applies one plan and returns its row.
func (a *App) apply(r *http.Request, actor service.Principal, resource, sid string) planRow {
	ctx := r.Context()
	row := planRow{SID: sid, Resource: resource}
	if _, doc, err := a.svc.Provisioning.PlanStatus(ctx, principal(r), sid); err == nil && doc != nil {
		row.RoleName = doc.Config.RoleName
		row.Target = target(spec.Role{Scopes: doc.Config.Scopes, SourceRole: doc.Config.SourceRole})
	}
	out, err := a.svc.Provisioning.Apply(ctx, actor, resource, sid)
	row.Status, row.Message, row.SessionSID = out.Status, out.Message, out.SID
	if err != nil {
		row.Message = a.message(r, err)
		if row.Status == "" {
			row.Status = "failed"
		}
	}
	return row
}

// ProvisionApply applies one role.
func (a *App) ProvisionApply(w http.ResponseWriter, r *http.Request, csrf string) {
	a.render(w, "apply-row", a.apply(r, actor(r), r.FormValue("resource"), r.FormValue("sid")))
}

// ProvisionApplyAll shows every pending role as queued, in a form the
// page's script posts at once to ProvisionApplyStream; that one request
// applies them all as one batch (one job per cluster), and each row is
// replaced by its outcome as it lands.
func (a *App) ProvisionApplyAll(w http.ResponseWriter, r *http.Request, csrf string) {
	r.ParseForm()
	sids, resources := r.Form["sid"], r.Form["resource"]
	rows := make([]planRow, 0, len(sids))
	for i, sid := range sids {
		if i >= len(resources) {
			break
		}
		row := planRow{SID: sid, Resource: resources[i], Status: "queued"}
		sess, doc, err := a.svc.Provisioning.PlanStatus(r.Context(), principal(r), sid)
		if err == nil && doc != nil {
			row.RoleName = doc.Config.RoleName
			row.Target = target(spec.Role{Scopes: doc.Config.Scopes, SourceRole: doc.Config.SourceRole})
		}
		if sess.AppliedBy != "" {
			// Applied on its own row already: show that outcome.
			if done, err := a.svc.Reporting.Session(r.Context(), principal(r), sess.AppliedBy); err == nil {
				row.Status, row.Message, row.SessionSID = done.Status, done.Message, done.SID
			}
		}
		rows = append(rows, row)
	}
	a.render(w, "apply-progress", map[string]any{"Results": rows})
}

// ProvisionApplyStream applies the posted plans as one batch and streams
// each row, rendered, as it lands: one JSON object {sid, html} per line,
// sid being the plan's. Like the API's batch route, a browser that goes
// away stops nothing.
func (a *App) ProvisionApplyStream(w http.ResponseWriter, r *http.Request, csrf string) {
	r.ParseForm()
	sids, resources := r.Form["sid"], r.Form["resource"]
	items := make([]service.ApplyItem, 0, len(sids))
	rows := make([]planRow, 0, len(sids))
	for i, sid := range sids {
		if i >= len(resources) {
			break
		}
		row := planRow{SID: sid, Resource: resources[i]}
		if _, doc, err := a.svc.Provisioning.PlanStatus(r.Context(), principal(r), sid); err == nil && doc != nil {
			row.RoleName = doc.Config.RoleName
			row.Target = target(spec.Role{Scopes: doc.Config.Scopes, SourceRole: doc.Config.SourceRole})
		}
		items = append(items, service.ApplyItem{Resource: resources[i], PlanSID: sid})
		rows = append(rows, row)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	enc := json.NewEncoder(w)
	a.svc.Provisioning.ApplyBatch(r.Context(), actor(r), items, func(o service.ItemOutcome) {
		row := rows[o.Index]
		row.Status, row.Message, row.SessionSID = o.Status, o.Message, o.SID
		if o.Err != nil {
			row.Message = a.message(r, o.Err)
			if row.Status == "" {
				row.Status = "failed"
			}
		}
		var html strings.Builder
		if err := a.tmpl.ExecuteTemplate(&html, "apply-row", row); err != nil {
			a.log.Error("render row", "err", err)
			return
		}
		if enc.Encode(map[string]string{"sid": row.SID, "html": html.String()}) == nil {
			rc.Flush()
		}
	})
}

// Fleet shows every resource with its roles' status, last check and last
// drift, and re-plans one on demand.
func (a *App) Fleet(w http.ResponseWriter, r *http.Request, csrf string) {
	rows, err := a.svc.Reporting.Fleet(r.Context(), principal(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, "fleet", map[string]any{"Title": "Fleet", "Nav": "fleet", "CSRF": csrf, "Rows": rows})
}

// Resource shows a resource's roles and re-plans them on demand.
func (a *App) Resource(w http.ResponseWriter, r *http.Request, csrf string) {
	name := r.PathValue("name")
	list, err := a.svc.Inventory.ListResources(r.Context(), principal(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var res *service.ResourceView
	for i := range list {
		if list[i].Name == name {
			res = &list[i]
		}
	}
	if res == nil {
		a.fail(w, r, errs.New(errs.NotFound, "resource %q is not in the inventory", name))
		return
	}
	roles, err := a.svc.Provisioning.Roles(r.Context(), principal(r), name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, "resource", map[string]any{"Title": name, "Nav": "inventory", "CSRF": csrf, "Resource": res, "Roles": roles})
}

// ResourceWizardForm renders the role wizard with the resource's live
// databases and schemas; the resource page loads it after it shows, so a
// slow cluster never holds the page up.
func (a *App) ResourceWizardForm(w http.ResponseWriter, r *http.Request, csrf string) {
	name := r.PathValue("name")
	wiz := wizardData{Resource: name}
	scopes, err := a.svc.Provisioning.Scopes(r.Context(), principal(r), name)
	if err != nil {
		wiz.ScopeError = a.message(r, err)
	}
	for _, d := range scopes {
		wd := wizardDB{Name: d.Name, Database: spec.Scope{Database: d.Name}.String(), Error: d.Error}
		for _, sc := range d.Schemas {
			wd.Schemas = append(wd.Schemas, wizardSchema{Name: sc, Scope: spec.Scope{Database: d.Name, Schema: sc}.String()})
		}
		for _, sc := range d.Extension {
			wd.Schemas = append(wd.Schemas, wizardSchema{Name: sc + " (extension)", Scope: spec.Scope{Database: d.Name, Schema: sc}.String()})
		}
		wiz.Scopes = append(wiz.Scopes, wd)
	}
	a.render(w, "wizard", wiz)
}

// wizardData feeds the role wizard: the live databases and schemas.
type wizardData struct {
	Resource, ScopeError string
	Scopes               []wizardDB
}

type wizardDB struct {
	Name, Database, Error string
	Schemas               []wizardSchema
}

type wizardSchema struct{ Name, Scope string }

// ResourceWizard plans the role the wizard describes.
func (a *App) ResourceWizard(w http.ResponseWriter, r *http.Request, csrf string) {
	r.ParseForm()
	role := spec.Role{
		Resource: r.PathValue("name"), Type: r.FormValue("type"), Label: r.FormValue("label"),
		RotatePassword: r.FormValue("rotate_password") == "true",
	}
	if role.Type == "external" {
		role.SourceRole = r.FormValue("source_role")
	} else {
		role.Scopes, role.Privileges = r.Form["scope"], r.Form["privilege"]
	}
	out, err := a.svc.Provisioning.Plan(r.Context(), actor(r), []spec.Role{role})
	if err != nil {
		a.render(w, "error-fragment", a.message(r, err))
		return
	}
	a.planResults(w, out)
}

// ResourceReplan plans every role of the resource again (drift check).
func (a *App) ResourceReplan(w http.ResponseWriter, r *http.Request, csrf string) {
	out, err := a.svc.Provisioning.Replan(r.Context(), actor(r), r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.planResults(w, out)
}

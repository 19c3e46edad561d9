package web

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// pageSize is how many rows a table shows at once.
const pageSize = 50

// pager is one page of a long table.
type pager struct {
	Number, Pages, Total int
	Prev, Next           string
}

func paginate(r *http.Request, total int) (pager, int, int) {
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pages := max(1, (total+pageSize-1)/pageSize)
	n = min(max(n, 1), pages)
	q := r.URL.Query()
	q.Set("page", strconv.Itoa(n-1))
	prev := q.Encode()
	q.Set("page", strconv.Itoa(n+1))
	from := (n - 1) * pageSize
	return pager{Number: n, Pages: pages, Total: total, Prev: prev, Next: q.Encode()}, from, min(from+pageSize, total)
}

// funnel counts resources that need an admin and that need roles.
func funnel(list []service.ResourceView) (needAdmin, needRoles int) {
	for _, r := range list {
		switch {
		case !r.AdminSet:
			needAdmin++
		case r.Progress < 3:
			needRoles++
		}
	}
	return
}

// Inventory lists resources with their setup progress.
func (a *App) Inventory(w http.ResponseWriter, r *http.Request, csrf string) {
	list, err := a.svc.Inventory.ListResources(r.Context(), principal(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	needAdmin, needRoles := funnel(list)
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	var shown []service.ResourceView
	for _, res := range list {
		if q == "" || strings.Contains(strings.ToLower(res.Name), q) || strings.Contains(strings.ToLower(res.Host), q) {
			shown = append(shown, res)
		}
	}
	pg, from, to := paginate(r, len(shown))
	a.render(w, "inventory", map[string]any{
		"Title": "Inventory", "Nav": "inventory", "CSRF": csrf, "Query": q,
		"Total": len(list), "NeedAdmin": needAdmin, "NeedRoles": needRoles,
		"Resources": shown[from:to], "Page": pg,
	})
}

// uploaded returns a form's CSV: the uploaded file if any, else the
// textarea.
func uploaded(r *http.Request) string {
	if f, _, err := r.FormFile("file"); err == nil {
		defer f.Close()
		if data, err := io.ReadAll(io.LimitReader(f, 16<<20)); err == nil && len(data) > 0 {
			return string(data)
		}
	}
	return r.FormValue("csv")
}

// InventoryPreview previews a CSV, or the single-resource form, without
// writing anything.
func (a *App) InventoryPreview(w http.ResponseWriter, r *http.Request, csrf string) {
	csv := uploaded(r)
	if csv == "" && r.FormValue("name") != "" {
		csv = fmt.Sprintf("name,type,host,port,database,sslmode\n%s,postgres,%s,%s,%s,%s\n",
			csvField(r.FormValue("name")), csvField(r.FormValue("host")), csvField(r.FormValue("port")),
			csvField(r.FormValue("database")), csvField(r.FormValue("sslmode")))
	}
	a.importResult(w, r, csv, true)
}

// InventoryImport writes a previewed CSV; rows in error block it all.
func (a *App) InventoryImport(w http.ResponseWriter, r *http.Request, csrf string) {
	a.importResult(w, r, r.FormValue("csv"), false)
}

func (a *App) importResult(w http.ResponseWriter, r *http.Request, csv string, dryRun bool) {
	res, err := a.svc.Inventory.ImportResources(r.Context(), principal(r), []byte(csv), dryRun)
	data := map[string]any{"Result": res, "CSV": csv, "Written": res.Written}
	if err != nil {
		data["Error"] = a.message(r, err)
	}
	a.render(w, "import-preview", data)
}

func csvField(s string) string {
	if strings.ContainsAny(s, "\",\n\r") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// InventoryRemove removes a resource.
func (a *App) InventoryRemove(w http.ResponseWriter, r *http.Request, csrf string) {
	if err := a.svc.Inventory.RemoveResource(r.Context(), principal(r), r.FormValue("name")); err != nil {
		a.fail(w, r, err)
		return
	}
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", "/inventory")
		return
	}
	http.Redirect(w, r, "/inventory", http.StatusSeeOther)
}

// Manage lists resources with the admin editor.
func (a *App) Manage(w http.ResponseWriter, r *http.Request, csrf string) {
	list, err := a.svc.Inventory.ListResources(r.Context(), principal(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	agents, err := a.svc.Inventory.Agents(r.Context(), principal(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	needAdmin, needRoles := funnel(list)
	// Resources still needing an admin come first.
	shown := make([]service.ResourceView, 0, len(list))
	for _, pass := range []bool{false, true} {
		for _, res := range list {
			if res.AdminSet == pass {
				shown = append(shown, res)
			}
		}
	}
	pg, from, to := paginate(r, len(shown))
	a.render(w, "manage", map[string]any{
		"Title": "Manage", "Nav": "manage", "CSRF": csrf, "Resources": shown[from:to], "Page": pg,
		"NeedAdmin": needAdmin, "NeedRoles": needRoles, "Agents": agents,
	})
}

// ManageAdmin validates and stores one admin credential; the error shows
// next to the resource's row.
func (a *App) ManageAdmin(w http.ResponseWriter, r *http.Request, csrf string) {
	err := a.svc.Inventory.SetAdmin(r.Context(), principal(r), spec.Admin{Resource: r.FormValue("name"), User: r.FormValue("user"), Password: r.FormValue("password")}, r.FormValue("agent"))
	data := map[string]any{}
	if err != nil {
		data["Error"] = a.message(r, err)
	}
	a.render(w, "admin-result", data)
}

// ManageBulk sets one admin credential on every selected resource, each
// validated on its own.
func (a *App) ManageBulk(w http.ResponseWriter, r *http.Request, csrf string) {
	r.ParseForm()
	var results []service.AdminResult
	for _, name := range r.Form["names"] {
		res := service.AdminResult{Name: name, OK: true}
		if err := a.svc.Inventory.SetAdmin(r.Context(), principal(r), spec.Admin{Resource: name, User: r.FormValue("user"), Password: r.FormValue("password")}, r.FormValue("agent")); err != nil {
			res.OK, res.Error = false, a.message(r, err)
		}
		results = append(results, res)
	}
	a.render(w, "bulk-result", map[string]any{"Results": results})
}

// ManageImport validates and stores credentials from a CSV, row by row.
func (a *App) ManageImport(w http.ResponseWriter, r *http.Request, csrf string) {
	res, err := a.svc.Inventory.ImportAdmins(r.Context(), principal(r), []byte(uploaded(r)), r.FormValue("agent"))
	data := map[string]any{"Results": res}
	if err != nil {
		data["Error"] = a.message(r, err)
	}
	a.render(w, "admin-import-result", data)
}

// Sessions lists sessions with filters.
func (a *App) Sessions(w http.ResponseWriter, r *http.Request, csrf string) {
	q := r.URL.Query()
	f := store.SessionFilter{Resource: q.Get("resource"), Kind: q.Get("kind"), Status: q.Get("status"), Limit: 500}
	if d := q.Get("since"); d != "" {
		if t, err := time.Parse("2006-01-02", d); err == nil {
			f.Since = t
		}
	}
	list, err := a.svc.Reporting.Sessions(r.Context(), principal(r), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	pg, from, to := paginate(r, len(list))
	a.render(w, "sessions", map[string]any{"Title": "Sessions", "Nav": "sessions", "CSRF": csrf, "Sessions": list[from:to], "Filter": f, "Page": pg})
}

// Session shows one session: for a plan, the SQL highlighted, the checksum
// and the whole document the CLI prints.
func (a *App) Session(w http.ResponseWriter, r *http.Request, csrf string) {
	sid := r.PathValue("sid")
	s, err := a.svc.Reporting.Session(r.Context(), principal(r), sid)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	data := map[string]any{"Title": "Session " + sid, "Nav": "sessions", "CSRF": csrf, "Session": s}
	if s.Kind == store.KindPlan {
		if _, doc, err := a.svc.Provisioning.PlanStatus(r.Context(), principal(r), sid); err == nil && doc != nil {
			data["Doc"] = doc
			data["SQL"] = planHTML(*doc)
		}
	}
	a.render(w, "session", data)
}

// SessionDownload sends a session's output as a file.
func (a *App) SessionDownload(w http.ResponseWriter, r *http.Request, csrf string) {
	s, err := a.svc.Reporting.Session(r.Context(), principal(r), r.PathValue("sid"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Disposition", `attachment; filename="`+url.PathEscape(s.SID)+`.yaml"`)
	io.WriteString(w, s.Output)
}

package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/inspect"
)

// ResourceDiscover is the resource page's "Every role" tab: every role of
// the cluster, its memberships and what it holds, managed or not.
func (a *App) ResourceDiscover(w http.ResponseWriter, r *http.Request, csrf string) {
	name := r.PathValue("name")
	d, err := a.svc.Inventory.Discover(r.Context(), principal(r), name, nil)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, "discover", map[string]any{"Title": name + ": every role", "Nav": "inventory", "CSRF": csrf, "Resource": name, "Discovery": d})
}

// WhoCan is the who-can page: a privilege on a table or column, asked of
// one resource or all, answered per role (a CSV download beside it).
func (a *App) WhoCan(w http.ResponseWriter, r *http.Request, csrf string) {
	data := map[string]any{"Title": "Who can", "Nav": "whocan", "CSRF": csrf, "Privilege": "SELECT"}
	resources, err := a.svc.Inventory.ListResources(r.Context(), principal(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	data["Resources"] = resources
	q := r.URL.Query()
	if q.Get("object") != "" {
		out, err := a.whoCan(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		// The same question, re-encoded, for the CSV link.
		csvQuery := url.Values{"privilege": {q.Get("privilege")}, "object": {q.Get("object")}, "resource": {q.Get("resource")}}
		data["Answer"], data["Privilege"], data["Object"], data["Resource"] = out, q.Get("privilege"), q.Get("object"), q.Get("resource")
		data["CSV"] = template.URL("/who-can.csv?" + csvQuery.Encode())
	}
	a.render(w, "whocan", data)
}

// WhoCanCSV downloads the who-can answer as CSV.
func (a *App) WhoCanCSV(w http.ResponseWriter, r *http.Request, _ string) {
	out, err := a.whoCan(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="who-can.csv"`)
	if err := out.WriteCSV(w); err != nil {
		a.log.Warn("who-can CSV", "err", err)
	}
}

func (a *App) whoCan(r *http.Request) (api.WhoCan, error) {
	q := r.URL.Query()
	wq, err := inspect.ParseWhoCan(q.Get("privilege"), strings.TrimSpace(q.Get("object")))
	if err != nil {
		return api.WhoCan{}, err
	}
	var resources []string
	if res := q.Get("resource"); res != "" {
		resources = []string{res}
	}
	return a.svc.Access.WhoCan(r.Context(), principal(r), resources, wq)
}

package web

import (
	"encoding/csv"
	"net/http"
	"time"

	"github.com/stile-dev/stile/internal/httperr"
	"github.com/stile-dev/stile/internal/service"
)

// Console is the query console: SQL run as one of the person's resource
// roles, through the same proxy as any client (masking and guardrails
// apply).
func (a *App) Console(w http.ResponseWriter, r *http.Request, csrf string) {
	p := principal(r)
	roles, err := a.svc.Access.ResourceRolesFor(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, "console", map[string]any{"Title": "Console", "Nav": "console", "CSRF": csrf, "Member": !p.Admin, "User": p.User,
		"Roles": roles, "Role": r.URL.Query().Get("role"), "MaxRows": service.DefaultConsoleRows, "MaxBytes": int64(service.DefaultConsoleBytes),
		"MaxValue": int64(service.DefaultConsoleValue), "Timeout": a.svc.Connections.ConsoleTimeout()})
}

func (a *App) consoleRun(r *http.Request) ([]service.ConsoleResult, time.Duration, error) {
	start := time.Now()
	res, err := a.svc.Connections.ConsoleRun(r.Context(), principal(r), r.FormValue("role"), r.FormValue("database"), r.FormValue("sql"),
		service.ConsoleOptions{ReadOnly: r.FormValue("read_only") != ""})
	return res, time.Since(start), err
}

// ConsoleRun runs the SQL and shows each result as a table.
func (a *App) ConsoleRun(w http.ResponseWriter, r *http.Request, _ string) {
	res, took, err := a.consoleRun(r)
	data := map[string]any{"Results": res, "Took": took.Round(time.Millisecond), "MaxRows": service.DefaultConsoleRows,
		"MaxBytes": int64(service.DefaultConsoleBytes), "MaxValue": int64(service.DefaultConsoleValue)}
	if err != nil {
		data["Error"] = httperr.Of(a.log, r, err).Message
	}
	a.render(w, "console-result", data)
}

// ConsoleCSV runs the SQL and downloads its last result as CSV (masked and
// cut as shown).
func (a *App) ConsoleCSV(w http.ResponseWriter, r *http.Request, _ string) {
	res, _, err := a.consoleRun(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="stile-console.csv"`)
	cw := csv.NewWriter(w)
	for i := len(res) - 1; i >= 0; i-- {
		if res[i].Columns == nil {
			continue
		}
		cw.Write(res[i].Columns)
		cw.WriteAll(res[i].Rows)
		break
	}
	cw.Flush()
}

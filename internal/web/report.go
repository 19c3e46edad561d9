package web

import (
	"encoding/csv"
	"net/http"

	"github.com/stile-dev/stile/internal/service"
)

// AccessReport is the printable access review.
func (a *App) AccessReport(w http.ResponseWriter, r *http.Request, csrf string) {
	rep, err := a.svc.Reporting.AccessReport(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, "access-report", map[string]any{"Title": "Access review", "Nav": "report", "CSRF": csrf, "Report": rep})
}

// AccessReportCSV downloads the access review as CSV.
func (a *App) AccessReportCSV(w http.ResponseWriter, r *http.Request, _ string) {
	rep, err := a.svc.Reporting.AccessReport(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	WriteAccessReportCSV(w, rep)
}

// AccessReportHTML downloads the access review as one HTML file.
func (a *App) AccessReportHTML(w http.ResponseWriter, r *http.Request, _ string) {
	rep, err := a.svc.Reporting.AccessReport(r.Context(), actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.WriteAccessReportHTML(w, rep)
}

// WriteAccessReportCSV writes the report as a CSV download.
func WriteAccessReportCSV(w http.ResponseWriter, rep service.AccessReport) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="stile-access-review-`+rep.GeneratedAt.Format("2006-01-02")+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write(service.AccessReportCSVHeader)
	cw.WriteAll(rep.Rows())
}

// WriteAccessReportHTML writes the report as a standalone HTML document.
func (a *App) WriteAccessReportHTML(w http.ResponseWriter, rep service.AccessReport) {
	w.Header().Set("Content-Disposition", `attachment; filename="stile-access-review-`+rep.GeneratedAt.Format("2006-01-02")+`.html"`)
	a.render(w, "access-report-doc", rep)
}

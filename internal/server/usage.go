package server

import (
	"net/http"
	"strconv"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/web"
)

// days reads the window of a usage request (30 days when not given).
func days(r *http.Request) (int, error) {
	v := r.URL.Query().Get("days")
	if v == "" {
		return 30, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errs.Invalidf("days %q is not a number", v)
	}
	return n, nil
}

func (s *Server) usage(w http.ResponseWriter, r *http.Request) error {
	n, err := days(r)
	if err != nil {
		return err
	}
	rep, err := s.svc.Reporting.Usage(r.Context(), principal(r), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) roleUsage(w http.ResponseWriter, r *http.Request) error {
	return s.subjectUsage(w, r, store.UsageRole)
}

func (s *Server) userUsage(w http.ResponseWriter, r *http.Request) error {
	return s.subjectUsage(w, r, store.UsageUser)
}

func (s *Server) subjectUsage(w http.ResponseWriter, r *http.Request, kind string) error {
	n, err := days(r)
	if err != nil {
		return err
	}
	u, err := s.svc.Reporting.SubjectUsage(r.Context(), principal(r), kind, r.PathValue("name"), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// accessReport answers the access review as JSON (default), CSV or HTML
// (?format=).
func (s *Server) accessReport(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	rep, err := s.svc.Reporting.AccessReport(r.Context(), p)
	if err != nil {
		return err
	}
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		writeJSON(w, http.StatusOK, rep)
	case "csv":
		web.WriteAccessReportCSV(w, rep)
	case "html":
		s.web.WriteAccessReportHTML(w, rep)
	default:
		return errs.Invalidf("format %q is not json, csv or html", f)
	}
	return nil
}

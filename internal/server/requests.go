package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/store"
)

func (s *Server) myAccess(w http.ResponseWriter, r *http.Request) error {
	m, err := s.svc.Requests.Mine(r.Context(), principal(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := s.svc.Requests.Policy(r.Context(), principal(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) setPolicy(w http.ResponseWriter, r *http.Request) error {
	var p api.AccessPolicy
	if err := decode(r, &p); err != nil {
		return err
	}
	if p.Role != "" && p.Role != r.PathValue("name") {
		return errs.Invalidf("the policy names role %q, the path %q", p.Role, r.PathValue("name"))
	}
	p.Role = r.PathValue("name")
	if err := s.svc.Requests.SetPolicy(r.Context(), principal(r), p); err != nil {
		return err
	}
	return s.getPolicy(w, r)
}

func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var list []store.AccessRequest
	var err error
	if q.Get("inbox") == "true" {
		list, err = s.svc.Requests.Inbox(r.Context(), principal(r))
	} else {
		f := store.RequestFilter{User: q.Get("user"), Role: q.Get("role"), Limit: 500}
		if st := q.Get("status"); st != "" {
			f.Status = strings.Split(st, ",")
		}
		list, err = s.svc.Requests.List(r.Context(), principal(r), f)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": list})
	return nil
}

func (s *Server) createRequest(w http.ResponseWriter, r *http.Request) error {
	var req api.NewAccessRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := s.svc.Requests.Create(r.Context(), principal(r), req.Role, time.Duration(req.Seconds)*time.Second, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) error {
	out, err := s.svc.Requests.Get(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) reviewRequest(w http.ResponseWriter, r *http.Request) error {
	var req api.ReviewRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	var out store.AccessRequest
	var err error
	switch d := r.PathValue("decision"); d {
	case "approve", "deny":
		out, err = s.svc.Requests.Review(r.Context(), principal(r), r.PathValue("id"), d == "approve", req.Reason)
	case "cancel":
		out, err = s.svc.Requests.Cancel(r.Context(), principal(r), r.PathValue("id"))
	default:
		return errs.Invalidf("decision %q is not approve, deny or cancel", d)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) rotateRole(w http.ResponseWriter, r *http.Request) error {
	var req api.RotateRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	out, err := s.svc.Rotation.Rotate(r.Context(), principal(r), r.PathValue("name"), req.Force)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getRotation(w http.ResponseWriter, r *http.Request) error {
	st, err := s.svc.Rotation.Status(r.Context(), principal(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) setRotation(w http.ResponseWriter, r *http.Request) error {
	var req api.ScheduleRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	st, err := s.svc.Rotation.SetSchedule(r.Context(), principal(r), r.PathValue("name"), time.Duration(req.EverySeconds)*time.Second)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) startCampaign(w http.ResponseWriter, r *http.Request) error {
	var req api.NewCampaign
	if err := decode(r, &req); err != nil {
		return err
	}
	c, err := s.svc.Campaigns.Start(r.Context(), principal(r), time.Duration(req.DueSeconds)*time.Second, req.OnDue)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) listCampaigns(w http.ResponseWriter, r *http.Request) error {
	list, err := s.svc.Campaigns.List(r.Context(), principal(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"campaigns": list})
	return nil
}

func (s *Server) getCampaign(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.Campaigns.Get(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) decideCampaign(w http.ResponseWriter, r *http.Request) error {
	var req api.CampaignDecision
	if err := decode(r, &req); err != nil {
		return err
	}
	c, err := s.svc.Campaigns.DecideGrants(r.Context(), principal(r), r.PathValue("id"), req.Grants, req.Revoke, req.Note)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) suggestRole(w http.ResponseWriter, r *http.Request) error {
	days := 90
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errs.Invalidf("days %q is not a number", v)
		}
		days = n
	}
	out, err := s.svc.Reporting.Suggest(r.Context(), principal(r), r.PathValue("name"), days)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) discover(w http.ResponseWriter, r *http.Request) error {
	d, err := s.svc.Inventory.Discover(r.Context(), principal(r), r.PathValue("name"), r.URL.Query()["role"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) generate(w http.ResponseWriter, r *http.Request) error {
	g, err := s.svc.Inventory.Generate(r.Context(), principal(r), r.PathValue("name"), r.URL.Query()["role"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

func (s *Server) whoCan(w http.ResponseWriter, r *http.Request) error {
	q, err := inspect.ParseWhoCan(r.URL.Query().Get("privilege"), r.URL.Query().Get("object"))
	if err != nil {
		return err
	}
	out, err := s.svc.Access.WhoCan(r.Context(), principal(r), r.URL.Query()["resource"], q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

package server

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/httperr"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

//go:embed openapi.yaml
var openAPIDoc []byte

// serveMetrics answers a Prometheus scrape (the admin token; or scrape
// --metrics-listen, which needs none).
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	s.svc.Reporting.Metrics().Handler().ServeHTTP(w, r)
	return nil
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, err := w.Write(openAPIDoc)
	return err
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request) error {
	agents, err := s.svc.Inventory.Agents(r.Context(), principal(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": agents})
	return nil
}

// AgentRequest is api.AgentRequest (the wire type), kept here for the server side.
type AgentRequest = api.AgentRequest

func (s *Server) createAgent(w http.ResponseWriter, r *http.Request) error {
	var req AgentRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	token, err := s.svc.Inventory.CreateAgent(r.Context(), principal(r), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"name": req.Name, "token": token})
	return nil
}

func (s *Server) revokeAgent(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Inventory.RevokeAgent(r.Context(), principal(r), r.PathValue("name")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "revoked": true})
	return nil
}

func (s *Server) listResources(w http.ResponseWriter, r *http.Request) error {
	list, err := s.svc.Inventory.ListResources(r.Context(), principal(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"resources": list})
	return nil
}

// ImportRequest is api.ImportRequest (the wire type), kept here for the server side.
type ImportRequest = api.ImportRequest

func (s *Server) importResources(w http.ResponseWriter, r *http.Request) error {
	var req ImportRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.svc.Inventory.ImportResources(r.Context(), principal(r), []byte(req.CSV), req.DryRun)
	if err != nil {
		return withDetail(err, res)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// AdminRequest is api.AdminRequest (the wire type), kept here for the server side.
type AdminRequest = api.AdminRequest

func (s *Server) setAdmin(w http.ResponseWriter, r *http.Request) error {
	var req AdminRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	a := spec.Admin{Resource: r.PathValue("name"), User: req.User, Password: req.Password}
	if err := s.svc.Inventory.SetAdmin(r.Context(), principal(r), a, req.Agent); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": a.Resource, "ok": true})
	return nil
}

// AdminImportRequest is api.AdminImportRequest (the wire type), kept here for the server side.
type AdminImportRequest = api.AdminImportRequest

func (s *Server) importAdmins(w http.ResponseWriter, r *http.Request) error {
	var req AdminImportRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.svc.Inventory.ImportAdmins(r.Context(), principal(r), []byte(req.CSV), req.Agent)
	if err != nil {
		return withDetail(err, map[string]any{"results": res})
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": res})
	return nil
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	res, err := s.svc.Inventory.Health(r.Context(), principal(r), r.PathValue("name"))
	if err != nil {
		if res.SID != "" {
			return withDetail(err, res)
		}
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// PlanRequest is api.PlanRequest (the wire type), kept here for the server side.
type PlanRequest = api.PlanRequest

func (s *Server) plan(w http.ResponseWriter, r *http.Request) error {
	var req PlanRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.PruneAdopted && !req.Prune {
		return errs.Invalidf("prune_adopted widens prune: give both")
	}
	if req.Prune {
		var err error
		if req.Items, err = s.svc.Provisioning.WithPrunes(r.Context(), principal(r), req.Items, req.PruneAdopted); err != nil {
			return err
		}
	}
	return s.answerPlans(w, r, req.Documents, func(progress func(int, service.PlanOutcome)) ([]service.PlanOutcome, error) {
		return s.svc.Provisioning.PlanEach(r.Context(), principal(r), req.Items, progress)
	})
}

// planDeclared plans every declared role, of the named resources or all.
func (s *Server) planDeclared(w http.ResponseWriter, r *http.Request) error {
	var req api.DeclaredPlanRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	return s.answerPlans(w, r, req.Documents, func(progress func(int, service.PlanOutcome)) ([]service.PlanOutcome, error) {
		return s.svc.Provisioning.PlanDeclared(r.Context(), principal(r), req.Resources, progress)
	})
}

// PlanLine is api.PlanLine (the wire type), kept here for the server side.
type PlanLine = api.PlanLine

// answerPlans answers a plan request: {results} at the end, or, when the
// client accepts application/x-ndjson, one PlanLine per item as it lands.
// An error before the first line is an ordinary error answer; one after it
// is a last line {"error": {code, message}}. Without documents the answer
// is brief: each outcome without its document (the session keeps it).
func (s *Server) answerPlans(w http.ResponseWriter, r *http.Request, documents bool, run func(func(int, service.PlanOutcome)) ([]service.PlanOutcome, error)) error {
	brief := func(o service.PlanOutcome) service.PlanOutcome {
		if !documents {
			o.Document = nil
		}
		return o
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/x-ndjson") {
		res, err := run(nil)
		for i := range res {
			res[i] = brief(res[i])
		}
		if err != nil {
			return withDetail(err, map[string]any{"results": res})
		}
		writeJSON(w, http.StatusOK, map[string]any{"results": res})
		return nil
	}
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	started := false
	start := func() {
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
		}
	}
	res, err := run(func(i int, o service.PlanOutcome) {
		start()
		if enc.Encode(PlanLine{Index: i, PlanOutcome: brief(o)}) == nil {
			rc.Flush()
		}
	})
	switch {
	case err != nil && !started:
		for i := range res {
			res[i] = brief(res[i])
		}
		return withDetail(err, map[string]any{"results": res})
	case err != nil:
		a := httperr.Of(s.log, r, err)
		enc.Encode(map[string]errorAnswer{"error": {Code: a.Code, Message: a.Message}})
	default:
		start()
	}
	return nil
}

func (s *Server) planStatus(w http.ResponseWriter, r *http.Request) error {
	sess, doc, err := s.svc.Provisioning.PlanStatus(r.Context(), principal(r), r.PathValue("sid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.PlanStatus{Session: sess, Document: doc})
	return nil
}

// ApplyRequest is api.ApplyRequest (the wire type), kept here for the server side.
type ApplyRequest = api.ApplyRequest

func (s *Server) apply(w http.ResponseWriter, r *http.Request) error {
	var req ApplyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.SID == "" {
		return errs.Invalidf("sid is required")
	}
	res, err := s.svc.Provisioning.Apply(r.Context(), principal(r), r.PathValue("name"), req.SID)
	if err != nil {
		return withDetail(err, res)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// ApplyBatchRequest is api.ApplyBatchRequest (the wire type), kept here for the server side.
type ApplyBatchRequest = api.ApplyBatchRequest

// ApplyBatchLine is api.ApplyBatchLine (the wire type), kept here for the server side.
type ApplyBatchLine = api.ApplyBatchLine

// maxApplyBatch bounds one batch apply request.
const maxApplyBatch = 10000

// applyBatch applies a batch of plans and streams each item's outcome as
// it lands, one JSON object per line (NDJSON), in the order they land. A
// client that goes away stops nothing: the applies run to their end.
func (s *Server) applyBatch(w http.ResponseWriter, r *http.Request) error {
	var req ApplyBatchRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	switch {
	case len(req.Items) == 0:
		return errs.Invalidf("items is empty: nothing to apply")
	case len(req.Items) > maxApplyBatch:
		return errs.Invalidf("%d items: at most %d in one request", len(req.Items), maxApplyBatch)
	}
	for i, it := range req.Items {
		if it.PlanSID == "" || it.Resource == "" {
			return errs.Invalidf("item %d has no sid or no resource_name: nothing was applied", i)
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	enc := json.NewEncoder(w)
	s.svc.Provisioning.ApplyBatch(r.Context(), principal(r), req.Items, func(o service.ItemOutcome) {
		line := ApplyBatchLine{Index: o.Index, ApplyOutcome: o.ApplyOutcome}
		if o.Err != nil {
			a := httperr.Of(s.log, r, o.Err)
			line.Error = &errorAnswer{Code: a.Code, Message: a.Message}
			if line.Status == "" {
				line.Status = "refused"
			}
		}
		// A client gone away is not an error here: the work goes on.
		if enc.Encode(line) == nil {
			rc.Flush()
		}
	})
	return nil
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.SessionFilter{Resource: q.Get("resource"), Kind: q.Get("kind"), Status: q.Get("status")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return errs.Invalidf("limit %q is not a positive number", l)
		}
		f.Limit = n
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return errs.Invalidf("%s %q is not an RFC 3339 time", name, v)
			}
			*dst = t
		}
	}
	if f.Kind != "" && !slices.Contains(service.SessionKinds, f.Kind) {
		return errs.Invalidf("kind %q is not one of %s", f.Kind, strings.Join(service.SessionKinds, ", "))
	}
	list, err := s.svc.Reporting.Sessions(r.Context(), principal(r), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
	return nil
}

func (s *Server) verifyChain(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.svc.Reporting.VerifyChain(r.Context(), principal(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.svc.Reporting.Session(r.Context(), principal(r), r.PathValue("sid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sess)
	return nil
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request) error {
	list, err := s.svc.Access.ResourceRolesFor(r.Context(), principal(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"roles": list})
	return nil
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request) error {
	role, err := s.svc.Access.ResourceRoleFor(r.Context(), principal(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, role)
	return nil
}

func (s *Server) revealRole(w http.ResponseWriter, r *http.Request) error {
	pw, err := s.svc.Provisioning.RevealPassword(r.Context(), principal(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"name": r.PathValue("name"), "password": pw})
	return nil
}

// RetireRequest is api.RetireRequest (the wire type), kept here for the server side.
type RetireRequest = api.RetireRequest

func (s *Server) retireRole(w http.ResponseWriter, r *http.Request) error {
	var req RetireRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := s.svc.Provisioning.RetireRole(r.Context(), principal(r), r.PathValue("name"), req.Heir)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

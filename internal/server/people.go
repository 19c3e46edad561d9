package server

import (
	"net/http"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	list, err := s.svc.Access.Users(r.Context(), principal(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": list})
	return nil
}

// UserRequest is api.UserRequest (the wire type), kept here for the server side.
type UserRequest = api.UserRequest

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var req UserRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := s.svc.Access.CreateUser(r.Context(), principal(r), req.Name, req.Admin); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, req)
	return nil
}

func (s *Server) disableUser(w http.ResponseWriter, r *http.Request) error {
	enable := r.URL.Query().Get("enable") == "true"
	if err := s.svc.Access.SetUserDisabled(r.Context(), principal(r), r.PathValue("name"), !enable); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "disabled": !enable})
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	id, token, err := s.svc.Access.CreateToken(r.Context(), principal(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]string{"id": id, "user": r.PathValue("name"), "token": token})
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	list, err := s.svc.Access.Tokens(r.Context(), principal(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": list})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Access.RevokeToken(r.Context(), principal(r), r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("id"), "revoked": true})
	return nil
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	g, err := s.svc.Access.Groups(r.Context(), principal(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": g})
	return nil
}

// GroupRequest is api.GroupRequest (the wire type), kept here for the server side.
type GroupRequest = api.GroupRequest

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	var req GroupRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := s.svc.Access.CreateGroup(r.Context(), principal(r), req.Name); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, req)
	return nil
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request) error {
	return s.member1(w, r, true)
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) error {
	return s.member1(w, r, false)
}

func (s *Server) member1(w http.ResponseWriter, r *http.Request, in bool) error {
	if err := s.svc.Access.SetMember(r.Context(), principal(r), r.PathValue("group"), r.PathValue("user"), in); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": r.PathValue("group"), "user": r.PathValue("user"), "member": in})
	return nil
}

func (s *Server) listAccess(w http.ResponseWriter, r *http.Request) error {
	a, err := s.svc.Access.Access(r.Context(), principal(r))
	if err != nil {
		return err
	}
	grants, err := s.svc.Access.Grants(r.Context(), principal(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"access": a, "grants": grants})
	return nil
}

func (s *Server) grantAccess(w http.ResponseWriter, r *http.Request) error {
	return s.access1(w, r, true)
}

func (s *Server) revokeAccess(w http.ResponseWriter, r *http.Request) error {
	return s.access1(w, r, false)
}

func (s *Server) access1(w http.ResponseWriter, r *http.Request, on bool) error {
	role, group := r.PathValue("role"), r.PathValue("group")
	if !on {
		if err := s.svc.Access.SetAccess(r.Context(), principal(r), role, group, false); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"role": role, "group": group, "granted": false})
		return nil
	}
	// No body: a standing grant without end, as before grants had kinds.
	var req api.GrantRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	g := api.Grant{Role: role, Group: group, Eligible: req.Eligible, Until: req.Until}
	if err := s.svc.Access.Grant(r.Context(), principal(r), g); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"role": role, "group": group, "granted": true, "eligible": g.Eligible, "until": g.Until})
	return nil
}

func (s *Server) requireApproval(w http.ResponseWriter, r *http.Request) error {
	on := r.Method == http.MethodPut
	if err := s.svc.Access.SetApprovalRequired(r.Context(), principal(r), r.PathValue("role"), on); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"role": r.PathValue("role"), "approval_required": on})
	return nil
}

func (s *Server) listApprovals(w http.ResponseWriter, r *http.Request) error {
	list, err := s.svc.Access.Approvals(r.Context(), principal(r), r.URL.Query().Get("status"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"approvals": list})
	return nil
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request) error {
	var approve bool
	switch r.PathValue("decision") {
	case "approve":
		approve = true
	case "deny":
	default:
		return errs.Invalidf("decision %q is not approve or deny", r.PathValue("decision"))
	}
	if err := s.svc.Access.Decide(r.Context(), principal(r), r.PathValue("id"), approve); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("id"), "approved": approve})
	return nil
}

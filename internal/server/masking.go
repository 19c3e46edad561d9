package server

import (
	"net/http"

	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/mask"
)

func (s *Server) listMasking(w http.ResponseWriter, r *http.Request) error {
	rules, err := s.svc.MaskRules(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": rules})
	return nil
}

func (s *Server) addMasking(w http.ResponseWriter, r *http.Request) error {
	var rule mask.Rule
	if err := decode(r, &rule); err != nil {
		return err
	}
	rule, err := s.svc.AddMaskRule(r.Context(), actor(r), r.PathValue("name"), rule)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rule)
	return nil
}

func (s *Server) removeMasking(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RemoveMaskRule(r.Context(), actor(r), r.PathValue("name"), r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"removed": r.PathValue("id")})
	return nil
}

func (s *Server) checkMasking(w http.ResponseWriter, r *http.Request) error {
	out, err := s.svc.CheckMasking(r.Context(), actor(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getGuardrails(w http.ResponseWriter, r *http.Request) error {
	p, err := s.svc.Guardrails(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) setGuardrails(w http.ResponseWriter, r *http.Request) error {
	var p guard.Policy
	if err := decode(r, &p); err != nil {
		return err
	}
	if err := s.svc.SetGuardrails(r.Context(), actor(r), r.PathValue("name"), p); err != nil {
		return err
	}
	return s.getGuardrails(w, r)
}

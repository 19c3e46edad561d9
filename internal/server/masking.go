package server

import (
	"net/http"

	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/mask"
)

func (s *Server) listMasking(w http.ResponseWriter, r *http.Request) error {
	rules, err := s.svc.Masking.MaskRules(r.Context(), principal(r), r.PathValue("name"))
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
	rule, err := s.svc.Masking.AddMaskRule(r.Context(), principal(r), r.PathValue("name"), rule)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rule)
	return nil
}

func (s *Server) removeMasking(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Masking.RemoveMaskRule(r.Context(), principal(r), r.PathValue("name"), r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"removed": r.PathValue("id")})
	return nil
}

func (s *Server) checkMasking(w http.ResponseWriter, r *http.Request) error {
	out, err := s.svc.Masking.CheckMasking(r.Context(), principal(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getGuardrails(w http.ResponseWriter, r *http.Request) error {
	p, err := s.svc.Masking.Guardrails(r.Context(), principal(r), r.PathValue("name"))
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
	if err := s.svc.Masking.SetGuardrails(r.Context(), principal(r), r.PathValue("name"), p); err != nil {
		return err
	}
	return s.getGuardrails(w, r)
}

package server

import (
	"net/http"

	"github.com/stile-dev/stile/internal/api"
)

// open runs an API handler that needs no token (stile login's steps: the
// token is what they make), with the same body limit and error path.
func (s *Server) open(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) cliToken(w http.ResponseWriter, r *http.Request) error {
	var in api.CLITokenRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := s.svc.SignIn.CLIToken(r.Context(), in.Code, in.Verifier)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) startDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := s.svc.SignIn.StartDevice(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) deviceToken(w http.ResponseWriter, r *http.Request) error {
	var in api.DeviceTokenRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := s.svc.SignIn.DeviceToken(r.Context(), in.DeviceCode)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.SignIn.Logout(r.Context(), principal(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"signed_out": true})
	return nil
}

// Package server is stile's HTTP API. Every route requires the admin API
// token; handlers decode JSON, call the service and encode JSON.
package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/web"
)

// maxBody bounds request bodies (CSV uploads included).
const maxBody = 16 << 20

// Server serves the API and the web app on one listener.
type Server struct {
	svc   *service.Service
	hub   http.Handler
	web   *web.App
	token string
	log   *slog.Logger
	mux   *http.ServeMux
}

// New returns a Server that accepts token as the admin bearer token (and as
// the web app's sign-in token); hub, if not nil, takes remote agents'
// connections.
func New(svc *service.Service, token string, log *slog.Logger, hub http.Handler) *Server {
	s := &Server{svc: svc, hub: hub, web: web.New(svc, token, log.With("component", "web")), token: token, log: log, mux: http.NewServeMux()}
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// authed wraps h with the bearer-token check (constant-time compare).
func (s *Server) authed(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !secret.TokenEqual(strings.TrimSpace(tok), s.token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="stile"`)
			s.writeError(w, r, errs.New(errs.Unauthorized, "missing or wrong API token"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error struct {
		Code    errs.Code `json:"code"`
		Message string    `json:"message"`
	} `json:"error"`
	// Detail carries a partial result (an import preview, per-row admin
	// results, an apply's output) alongside the error.
	Detail any `json:"detail,omitempty"`
}

// detailError is an error that carries a partial result for the client.
type detailError struct {
	err    error
	detail any
}

func (e detailError) Error() string { return e.err.Error() }
func (e detailError) Unwrap() error { return e.err }

func withDetail(err error, detail any) error {
	if err == nil {
		return nil
	}
	return detailError{err: err, detail: detail}
}

// status is the one place codes map to HTTP statuses.
func status(code errs.Code) int {
	switch code {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict, errs.Drift:
		return http.StatusConflict
	case errs.Unauthorized:
		return http.StatusUnauthorized
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	case errs.Failed:
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var body errorBody
	code := errs.CodeOf(err)
	body.Error.Code = code
	body.Error.Message = err.Error()
	if code == errs.Internal {
		// Internal detail is logged, not sent.
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error.Message = "internal error; see the server log"
	}
	if d, ok := errors.AsType[detailError](err); ok {
		body.Detail = d.detail
	}
	writeJSON(w, status(code), body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errs.Invalidf("request body: %v", err)
	}
	return nil
}

// actor names who made a request; with one admin token, it is "admin".
func actor(*http.Request) string { return "admin" }

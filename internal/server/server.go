// Package server is stile's HTTP front: the JSON API and the web app, every
// route in one table (Routes) with the level it needs (public, member,
// admin). Tokens are authenticated by the service; handlers decode JSON,
// call the service and encode JSON, and errors take the one httperr path.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/httperr"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/web"
)

// maxBody bounds request bodies (CSV uploads included).
const maxBody = 16 << 20

// Server serves the API and the web app on one listener.
type Server struct {
	svc *service.Services
	hub http.Handler
	web *web.App
	log *slog.Logger
	mux *http.ServeMux
}

// New returns a Server; the service authenticates every bearer token and
// the web app's sign-in. hub, if not nil, takes remote agents' connections.
func New(svc *service.Services, log *slog.Logger, hub http.Handler) *Server {
	s := &Server{svc: svc, hub: hub, web: web.New(svc, log.With("component", "web")), log: log, mux: http.NewServeMux()}
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
// Every request carries where it came from (the TCP peer: a forwarded-for
// header is not trusted), for the sign-in alerts.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	via := "web"
	if strings.HasPrefix(r.URL.Path, "/api/") {
		via = "api"
	}
	s.mux.ServeHTTP(w, r.WithContext(service.WithSource(r.Context(), r.RemoteAddr, via)))
}

type principalKey struct{}

// guard authenticates the bearer token through the service; on an admin
// route it asks the service's one check (MayAdminister) before the body is
// read, though every operation decides again next to its data. Then it runs
// h with the principal in the request's context and writes h's error.
func (s *Server) guard(adminOnly bool, h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="stile"`)
			s.writeError(w, r, err)
			return
		}
		if adminOnly {
			if err := p.MayAdminister(); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// authenticate resolves the request's bearer token to a principal.
func (s *Server) authenticate(r *http.Request) (service.Principal, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return service.Principal{}, errs.New(errs.Unauthorized, "missing or wrong API token")
	}
	return s.svc.SignIn.Authenticate(r.Context(), tok)
}

// principal is who the request acts as.
func principal(r *http.Request) service.Principal {
	p, _ := r.Context().Value(principalKey{}).(service.Principal)
	return p
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorAnswer `json:"error"`
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

// errorAnswer is what a client sees of an error: its code and message.
type errorAnswer = api.Error

// writeError answers a failed request with errorBody: httperr decides the
// status and what the client may see (internal detail is logged with an id).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	a := s.answer(r, err)
	var body errorBody
	body.Error.Code, body.Error.Message = a.Code, a.Message
	if d, ok := errors.AsType[detailError](err); ok {
		body.Detail = d.detail
	}
	writeJSON(w, a.Status, body)
}

// answer is what the client of r may see of err (httperr's rule), for a
// JSON error body or a WebSocket's greeting; an internal error is counted.
func (s *Server) answer(r *http.Request, err error) httperr.Answer {
	a := httperr.Of(s.log, r, err)
	if a.Code == errs.Internal && s.svc != nil {
		s.svc.Reporting.Metrics().InternalError()
	}
	return a
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

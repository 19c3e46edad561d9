package server

import "net/http"

// routes lists every route of the API.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /api/v1/openapi.yaml", s.authed(s.openAPI))

	s.mux.HandleFunc("GET /api/v1/agents", s.authed(s.listAgents))
	s.mux.HandleFunc("GET /api/v1/resources", s.authed(s.listResources))
	s.mux.HandleFunc("POST /api/v1/resources/import", s.authed(s.importResources))
	s.mux.HandleFunc("PUT /api/v1/resources/{name}/admin", s.authed(s.setAdmin))
	s.mux.HandleFunc("POST /api/v1/admins/import", s.authed(s.importAdmins))
	s.mux.HandleFunc("POST /api/v1/resources/{name}/health", s.authed(s.health))
	s.mux.HandleFunc("POST /api/v1/plans", s.authed(s.plan))
	s.mux.HandleFunc("GET /api/v1/plans/{sid}", s.authed(s.planStatus))
	s.mux.HandleFunc("POST /api/v1/resources/{name}/apply", s.authed(s.apply))
	s.mux.HandleFunc("GET /api/v1/sessions", s.authed(s.listSessions))
	s.mux.HandleFunc("GET /api/v1/sessions/{sid}", s.authed(s.getSession))
}

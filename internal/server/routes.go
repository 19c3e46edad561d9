package server

import "net/http"

// routes lists every route of the API.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /api/v1/openapi.yaml", s.authed(s.openAPI))

	s.mux.HandleFunc("GET /api/v1/agents", s.authed(s.listAgents))
	s.mux.HandleFunc("POST /api/v1/agents", s.authed(s.createAgent))
	s.mux.HandleFunc("DELETE /api/v1/agents/{name}", s.authed(s.revokeAgent))
	if s.hub != nil {
		// Agents authenticate with their own token, not the admin's.
		s.mux.Handle("GET /api/v1/agent/connect", s.hub)
		if h, ok := s.hub.(interface {
			ServeStream(http.ResponseWriter, *http.Request)
		}); ok {
			s.mux.HandleFunc("GET /api/v1/agent/stream", h.ServeStream)
		}
	}
	s.mux.HandleFunc("GET /api/v1/resources", s.authed(s.listResources))
	s.mux.HandleFunc("POST /api/v1/resources/import", s.authed(s.importResources))
	s.mux.HandleFunc("PUT /api/v1/resources/{name}/admin", s.authed(s.setAdmin))
	s.mux.HandleFunc("POST /api/v1/admins/import", s.authed(s.importAdmins))
	s.mux.HandleFunc("POST /api/v1/resources/{name}/health", s.authed(s.health))
	s.mux.HandleFunc("POST /api/v1/plans", s.authed(s.plan))
	s.mux.HandleFunc("GET /api/v1/plans/{sid}", s.authed(s.planStatus))
	s.mux.HandleFunc("POST /api/v1/resources/{name}/apply", s.authed(s.apply))
	s.mux.HandleFunc("GET /api/v1/roles", s.member(s.listRoles))
	s.mux.HandleFunc("GET /api/v1/roles/{name}", s.member(s.getRole))
	s.mux.HandleFunc("POST /api/v1/roles/{name}/reveal", s.authed(s.revealRole))
	s.mux.HandleFunc("POST /api/v1/roles/{name}/retire", s.authed(s.retireRole))
	s.mux.HandleFunc("GET /api/v1/connect", s.member(s.connect))
	s.mux.HandleFunc("POST /api/v1/connections/cancel", s.member(s.cancelQuery))
	s.mux.HandleFunc("GET /api/v1/users", s.authed(s.listUsers))
	s.mux.HandleFunc("POST /api/v1/users", s.authed(s.createUser))
	s.mux.HandleFunc("POST /api/v1/users/{name}/disable", s.authed(s.disableUser))
	s.mux.HandleFunc("POST /api/v1/users/{name}/tokens", s.authed(s.createToken))
	s.mux.HandleFunc("DELETE /api/v1/tokens/{id}", s.authed(s.revokeToken))
	s.mux.HandleFunc("GET /api/v1/groups", s.authed(s.listGroups))
	s.mux.HandleFunc("POST /api/v1/groups", s.authed(s.createGroup))
	s.mux.HandleFunc("PUT /api/v1/groups/{group}/members/{user}", s.authed(s.addMember))
	s.mux.HandleFunc("DELETE /api/v1/groups/{group}/members/{user}", s.authed(s.removeMember))
	s.mux.HandleFunc("GET /api/v1/access", s.authed(s.listAccess))
	s.mux.HandleFunc("PUT /api/v1/access/{role}/{group}", s.authed(s.grantAccess))
	s.mux.HandleFunc("DELETE /api/v1/access/{role}/{group}", s.authed(s.revokeAccess))
	s.mux.HandleFunc("PUT /api/v1/approval-required/{role}", s.authed(s.requireApproval))
	s.mux.HandleFunc("DELETE /api/v1/approval-required/{role}", s.authed(s.requireApproval))
	s.mux.HandleFunc("GET /api/v1/approvals", s.authed(s.listApprovals))
	s.mux.HandleFunc("POST /api/v1/approvals/{id}/{decision}", s.authed(s.decide))
	s.mux.HandleFunc("GET /api/v1/sessions", s.authed(s.listSessions))
	s.mux.HandleFunc("GET /api/v1/sessions/{sid}", s.authed(s.getSession))

	// The web app: a session cookie after sign-in, CSRF on every POST.
	w := s.web
	s.mux.Handle("GET /static/", w.Static())
	s.mux.HandleFunc("GET /login", w.Login)
	s.mux.HandleFunc("POST /login", w.Login)
	s.mux.HandleFunc("POST /logout", w.Page(w.Logout))
	s.mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) { http.Redirect(rw, r, "/inventory", http.StatusSeeOther) })
	s.mux.HandleFunc("GET /inventory", w.Page(w.Inventory))
	s.mux.HandleFunc("POST /inventory/preview", w.Page(w.InventoryPreview))
	s.mux.HandleFunc("POST /inventory/import", w.Page(w.InventoryImport))
	s.mux.HandleFunc("POST /inventory/remove", w.Page(w.InventoryRemove))
	s.mux.HandleFunc("GET /manage", w.Page(w.Manage))
	s.mux.HandleFunc("POST /manage/admin", w.Page(w.ManageAdmin))
	s.mux.HandleFunc("POST /manage/import", w.Page(w.ManageImport))
	s.mux.HandleFunc("POST /manage/bulk", w.Page(w.ManageBulk))
	s.mux.HandleFunc("GET /provision", w.Page(w.Provision))
	s.mux.HandleFunc("POST /provision/preview", w.Page(w.ProvisionPreview))
	s.mux.HandleFunc("POST /provision/plan", w.Page(w.ProvisionPlan))
	s.mux.HandleFunc("POST /provision/apply", w.Page(w.ProvisionApply))
	s.mux.HandleFunc("POST /provision/apply-all", w.Page(w.ProvisionApplyAll))
	s.mux.HandleFunc("GET /resources/{name}", w.Page(w.Resource))
	s.mux.HandleFunc("POST /resources/{name}/replan", w.Page(w.ResourceReplan))
	s.mux.HandleFunc("GET /resources/{name}/wizard", w.Page(w.ResourceWizardForm))
	s.mux.HandleFunc("POST /resources/{name}/wizard", w.Page(w.ResourceWizard))
	s.mux.HandleFunc("GET /roles", w.Page(w.Roles))
	s.mux.HandleFunc("GET /roles/{name}", w.Page(w.Role))
	s.mux.HandleFunc("GET /approvals", w.Page(w.Approvals))
	s.mux.HandleFunc("POST /approvals/{id}/{decision}", w.Page(w.Decide))
	s.mux.HandleFunc("GET /sessions", w.Page(w.Sessions))
	s.mux.HandleFunc("GET /sessions/{sid}", w.Page(w.Session))
	s.mux.HandleFunc("GET /sessions/{sid}/download", w.Page(w.SessionDownload))
}

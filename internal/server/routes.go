package server

import (
	"net/http"

	"github.com/stile-dev/stile/internal/version"
)

// Level is who may call a route.
type Level int

// Levels.
const (
	Public Level = iota // anyone
	Member              // any signed-in user; the service decides what they see
	Admin               // the admin token or an admin user
	Agent               // a live (not revoked) agent's token, checked by the hub
)

func (l Level) String() string { return [...]string{"public", "member", "admin", "agent"}[l] }

// Route is one entry of the route table: its pattern, who may call it, and
// whether it is part of the JSON API (listed in openapi.yaml) or the web
// app.
type Route struct {
	Pattern string
	Level   Level
	API     bool
	handler http.Handler
}

type apiHandler = func(http.ResponseWriter, *http.Request) error
type pageHandler = func(http.ResponseWriter, *http.Request, string)

// Routes returns every route the server serves, each with its level in one
// place: a test walks this table as a stranger and as a member.
func (s *Server) Routes() []Route {
	api := func(pattern string, l Level, h apiHandler) Route {
		return Route{Pattern: pattern, Level: l, API: true, handler: s.guard(l == Admin, h)}
	}
	w := s.web
	page := func(pattern string, l Level, h pageHandler) Route {
		if l == Admin {
			return Route{Pattern: pattern, Level: l, handler: w.Page(h)}
		}
		return Route{Pattern: pattern, Level: l, handler: w.MemberPage(h)}
	}
	public := func(pattern string, h http.Handler) Route { return Route{Pattern: pattern, Level: Public, handler: h} }
	openAPI := func(pattern string, h apiHandler) Route {
		return Route{Pattern: pattern, Level: Public, API: true, handler: s.open(h)}
	}

	routes := []Route{
		public("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok " + version.String() + "\n")) })),
		api("GET /api/v1/openapi.yaml", Admin, s.openAPI),
		api("GET /metrics", Admin, s.serveMetrics),

		api("GET /api/v1/agents", Admin, s.listAgents),
		api("POST /api/v1/agents", Admin, s.createAgent),
		api("DELETE /api/v1/agents/{name}", Admin, s.revokeAgent),
		api("GET /api/v1/resources", Admin, s.listResources),
		api("POST /api/v1/resources/import", Admin, s.importResources),
		api("PUT /api/v1/resources/{name}/admin", Admin, s.setAdmin),
		api("POST /api/v1/admins/import", Admin, s.importAdmins),
		api("POST /api/v1/resources/{name}/health", Admin, s.health),
		api("GET /api/v1/resources/{name}/discover", Admin, s.discover),
		api("GET /api/v1/resources/{name}/generate", Admin, s.generate),
		api("POST /api/v1/plans", Admin, s.plan),
		api("POST /api/v1/plans/declared", Admin, s.planDeclared),
		api("GET /api/v1/plans/{sid}", Admin, s.planStatus),
		api("POST /api/v1/resources/{name}/apply", Admin, s.apply),
		api("POST /api/v1/applies", Admin, s.applyBatch),
		api("GET /api/v1/roles", Member, s.listRoles),
		api("GET /api/v1/roles/{name}", Member, s.getRole),
		api("POST /api/v1/roles/{name}/reveal", Admin, s.revealRole),
		api("POST /api/v1/roles/{name}/retire", Admin, s.retireRole),
		api("GET /api/v1/roles/{name}/masking", Admin, s.listMasking),
		api("POST /api/v1/roles/{name}/masking", Admin, s.addMasking),
		api("DELETE /api/v1/roles/{name}/masking/{id}", Admin, s.removeMasking),
		api("POST /api/v1/roles/{name}/masking/check", Admin, s.checkMasking),
		api("GET /api/v1/roles/{name}/guardrails", Admin, s.getGuardrails),
		api("PUT /api/v1/roles/{name}/guardrails", Admin, s.setGuardrails),
		api("POST /api/v1/roles/{name}/rotate", Admin, s.rotateRole),
		api("GET /api/v1/roles/{name}/suggest", Admin, s.suggestRole),
		api("GET /api/v1/roles/{name}/rotation", Admin, s.getRotation),
		api("PUT /api/v1/roles/{name}/rotation", Admin, s.setRotation),
		api("GET /api/v1/roles/{name}/policy", Member, s.getPolicy),
		api("PUT /api/v1/roles/{name}/policy", Admin, s.setPolicy),
		api("POST /api/v1/campaigns", Admin, s.startCampaign),
		api("GET /api/v1/campaigns", Member, s.listCampaigns),
		api("GET /api/v1/campaigns/{id}", Member, s.getCampaign),
		api("POST /api/v1/campaigns/{id}/decisions", Member, s.decideCampaign),
		api("GET /api/v1/requests", Member, s.listRequests),
		api("POST /api/v1/requests", Member, s.createRequest),
		api("GET /api/v1/requests/{id}", Member, s.getRequest),
		api("POST /api/v1/requests/{id}/{decision}", Member, s.reviewRequest),
		api("GET /api/v1/connect", Member, s.connect),
		api("POST /api/v1/connections/cancel", Member, s.cancelQuery),
		api("GET /api/v1/users", Admin, s.listUsers),
		api("POST /api/v1/users", Admin, s.createUser),
		api("POST /api/v1/users/{name}/disable", Admin, s.disableUser),
		api("GET /api/v1/users/{name}/tokens", Admin, s.listTokens),
		api("POST /api/v1/users/{name}/tokens", Admin, s.createToken),
		api("DELETE /api/v1/tokens/{id}", Admin, s.revokeToken),
		api("GET /api/v1/groups", Admin, s.listGroups),
		api("POST /api/v1/groups", Admin, s.createGroup),
		api("PUT /api/v1/groups/{group}/members/{user}", Admin, s.addMember),
		api("DELETE /api/v1/groups/{group}/members/{user}", Admin, s.removeMember),
		api("GET /api/v1/access", Admin, s.listAccess),
		api("GET /api/v1/access/mine", Member, s.myAccess),
		api("GET /api/v1/who-can", Admin, s.whoCan),
		api("PUT /api/v1/access/{role}/{group}", Admin, s.grantAccess),
		api("DELETE /api/v1/access/{role}/{group}", Admin, s.revokeAccess),
		api("PUT /api/v1/approval-required/{role}", Admin, s.requireApproval),
		api("DELETE /api/v1/approval-required/{role}", Admin, s.requireApproval),
		api("GET /api/v1/approvals", Admin, s.listApprovals),
		api("POST /api/v1/approvals/{id}/{decision}", Admin, s.decide),
		api("GET /api/v1/sessions", Admin, s.listSessions),
		api("GET /api/v1/sessions/{sid}", Admin, s.getSession),
		api("GET /api/v1/audit/chain", Admin, s.verifyChain),
		openAPI("POST /api/v1/auth/cli-token", s.cliToken),
		openAPI("POST /api/v1/auth/device", s.startDevice),
		openAPI("POST /api/v1/auth/device/token", s.deviceToken),
		api("POST /api/v1/auth/logout", Member, s.logout),
		api("GET /api/v1/usage", Admin, s.usage),
		api("GET /api/v1/usage/roles/{name}", Admin, s.roleUsage),
		api("GET /api/v1/usage/users/{name}", Admin, s.userUsage),
		api("GET /api/v1/reports/access", Admin, s.accessReport),

		// The web app: a session cookie after sign-in, CSRF on every POST.
		public("GET /static/", w.Static()),
		public("GET /login", http.HandlerFunc(w.Login)),
		public("POST /login", http.HandlerFunc(w.Login)),
		public("GET /auth/oidc/start", http.HandlerFunc(w.OIDCStart)),
		public("GET /auth/oidc/callback", http.HandlerFunc(w.OIDCCallback)),
		public("GET /auth/cli", http.HandlerFunc(w.OIDCStartCLI)),
		page("GET /auth/device", Member, w.Device),
		page("POST /auth/device", Member, w.DeviceApprove),
		page("POST /logout", Member, w.Logout),
		page("GET /{$}", Member, w.Home),
		page("GET /inventory", Admin, w.Inventory),
		page("GET /fleet", Admin, w.Fleet),
		page("GET /usage", Admin, w.Usage),
		page("GET /reports/access", Admin, w.AccessReport),
		page("GET /reports/access.csv", Admin, w.AccessReportCSV),
		page("GET /reports/access.html", Admin, w.AccessReportHTML),
		page("POST /inventory/preview", Admin, w.InventoryPreview),
		page("POST /inventory/import", Admin, w.InventoryImport),
		page("POST /inventory/remove", Admin, w.InventoryRemove),
		page("GET /manage", Admin, w.Manage),
		page("POST /manage/admin", Admin, w.ManageAdmin),
		page("POST /manage/import", Admin, w.ManageImport),
		page("POST /manage/bulk", Admin, w.ManageBulk),
		page("GET /provision", Admin, w.Provision),
		page("POST /provision/preview", Admin, w.ProvisionPreview),
		page("POST /provision/plan", Admin, w.ProvisionPlan),
		page("POST /provision/apply", Admin, w.ProvisionApply),
		page("POST /provision/apply-all", Admin, w.ProvisionApplyAll),
		page("POST /provision/apply-stream", Admin, w.ProvisionApplyStream),
		page("GET /resources/{name}", Admin, w.Resource),
		page("POST /resources/{name}/replan", Admin, w.ResourceReplan),
		page("GET /resources/{name}/wizard", Admin, w.ResourceWizardForm),
		page("GET /resources/{name}/discover", Admin, w.ResourceDiscover),
		page("GET /who-can", Admin, w.WhoCan),
		page("GET /who-can.csv", Admin, w.WhoCanCSV),
		page("POST /resources/{name}/wizard", Admin, w.ResourceWizard),
		page("GET /roles", Member, w.Roles),
		page("GET /console", Member, w.Console),
		page("POST /console/run", Member, w.ConsoleRun),
		page("POST /console/csv", Member, w.ConsoleCSV),
		page("GET /roles/{name}", Member, w.Role),
		page("POST /roles/{name}/access", Admin, w.RoleAccess),
		page("POST /roles/{name}/approval", Admin, w.RoleApproval),
		page("POST /roles/{name}/masking", Admin, w.RoleMasking),
		page("POST /roles/{name}/reveal", Admin, w.RoleReveal),
		page("POST /roles/{name}/rotate", Admin, w.RoleRotate),
		page("POST /roles/{name}/suggest", Admin, w.RoleSuggest),
		page("POST /roles/{name}/suggest/plan", Admin, w.RoleSuggestPlan),
		page("POST /roles/{name}/retire", Admin, w.RoleRetire),
		page("GET /people", Admin, w.People),
		page("POST /people/users", Admin, w.PeopleCreateUser),
		page("POST /people/users/{name}/disable", Admin, w.PeopleDisable),
		page("POST /people/users/{name}/tokens", Admin, w.PeopleToken),
		page("POST /people/tokens/{id}/revoke", Admin, w.PeopleRevoke),
		page("POST /people/groups", Admin, w.PeopleCreateGroup),
		page("POST /people/groups/{group}/members", Admin, w.PeopleMember),
		page("GET /campaigns", Member, w.Campaigns),
		page("POST /campaigns", Admin, w.CampaignStart),
		page("GET /campaigns/{id}", Member, w.Campaign),
		page("POST /campaigns/{id}/decisions", Member, w.CampaignDecide),
		page("GET /requests", Member, w.Requests),
		page("GET /requests/{id}", Member, w.Request),
		page("POST /requests/{id}/{decision}", Member, w.RequestDecide),
		page("POST /roles/{name}/request", Member, w.RoleRequest),
		page("POST /roles/{name}/policy", Admin, w.RolePolicy),
		page("GET /approvals", Admin, w.Approvals),
		page("POST /approvals/{id}/{decision}", Admin, w.Decide),
		page("GET /sessions", Admin, w.Sessions),
		page("GET /sessions/{sid}", Admin, w.Session),
		page("GET /sessions/{sid}/download", Admin, w.SessionDownload),
	}
	if s.hub != nil {
		// Agents authenticate with their own token, not a person's: the
		// hub's one check is in front of both routes.
		agent := func(pattern string, h http.Handler) Route { return Route{Pattern: pattern, Level: Agent, handler: h} }
		routes = append(routes, agent("GET /api/v1/agent/connect", s.hub))
		if h, ok := s.hub.(interface {
			ServeStream(http.ResponseWriter, *http.Request)
		}); ok {
			routes = append(routes, agent("GET /api/v1/agent/stream", http.HandlerFunc(h.ServeStream)))
		}
	}
	return routes
}

// routes registers the route table.
func (s *Server) routes() {
	for _, r := range s.Routes() {
		s.mux.Handle(r.Pattern, r.handler)
	}
}

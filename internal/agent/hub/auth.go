package hub

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/httperr"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// errRefused is the one refusal of an agent's request: the same words
// whether the token is missing, unknown or a revoked agent's.
var errRefused = errs.New(errs.Unauthorized, "unknown or revoked agent token")

// authenticated is the one agent authentication, in front of both agent
// routes (the hub's WebSocket and the connection streams): the request
// must bear the token of an agent that is not revoked (Authorization:
// Bearer <token>). next runs with that agent; any other request is
// answered 401 with the API's JSON error body, through httperr.
func (h *Hub) authenticated(next func(http.ResponseWriter, *http.Request, store.Agent)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := h.agentOf(r)
		if err != nil {
			ans := httperr.Of(h.log, r, err)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="stile agents"`)
			w.WriteHeader(ans.Status)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": ans.Code, "message": ans.Message}})
			return
		}
		next(w, r, a)
	}
}

// agentOf returns the live agent whose token r bears, or errRefused. A
// store that cannot answer refuses too (fail closed), and is logged.
func (h *Hub) agentOf(r *http.Request) (store.Agent, error) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return store.Agent{}, errRefused
	}
	a, err := h.reg.AgentByToken(r.Context(), secret.TokenHash(tok))
	if err != nil {
		if !errs.Is(err, errs.NotFound) {
			h.log.Error("agent token lookup", "err", err)
		}
		return store.Agent{}, errRefused
	}
	if !a.RevokedAt.IsZero() {
		return store.Agent{}, errRefused
	}
	return a, nil
}

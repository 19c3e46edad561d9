package server

import (
	"net/http"

	"github.com/coder/websocket"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/proxy"
)

// connect carries one PostgreSQL client connection (from `stile connect`)
// over a WebSocket: the server opens the database as the resource role,
// with its injected password, and relays the protocol bytes.
func (s *Server) connect(w http.ResponseWriter, r *http.Request) error {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil // Accept has answered
	}
	ws.SetReadLimit(64 << 20)
	ctx := r.Context()
	c, err := s.svc.Connections.Connect(ctx, principal(r), r.URL.Query().Get("role"), r.URL.Query().Get("database"))
	if err != nil {
		proxy.SendHello(ctx, ws, proxy.Hello{Error: s.answer(r, err).Message})
		ws.Close(websocket.StatusPolicyViolation, "refused")
		return nil
	}
	if err := proxy.SendHello(ctx, ws, c.Hello); err != nil {
		c.Upstream.Close()
		return nil
	}
	s.svc.Connections.Finish(ctx, c, proxy.Relay(c.Ctx, ws, c.Upstream, c.Mask))
	return nil
}

// cancelQuery relays a client's CancelRequest: the body names the connection
// by the cancel token its Hello carried.
func (s *Server) cancelQuery(w http.ResponseWriter, r *http.Request) error {
	var req api.CancelRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := s.svc.Connections.CancelQuery(r.Context(), principal(r), req.CancelToken); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

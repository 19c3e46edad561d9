package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// cancelRoute is how to cancel the query running on a connection: the
// real server's cancel key (built-in agent), or the agent and stream that
// hold it. It is kept sealed in the store so that a cancel request reaching
// any replica behind a load balancer finds it.
type cancelRoute struct {
	Addr   string `json:"addr,omitempty"`
	PID    uint32 `json:"pid,omitempty"`
	Key    []byte `json:"key,omitempty"`
	Agent  string `json:"agent,omitempty"`
	Stream string `json:"stream,omitempty"`
}

// send cancels the query the route leads to.
func (s *Connections) send(ctx context.Context, r cancelRoute) error {
	if r.Agent != "" {
		if s.hub == nil {
			return errs.New(errs.Unavailable, "agent %s is offline", r.Agent)
		}
		return s.hub.CancelStream(ctx, r.Agent, r.Stream)
	}
	return proxy.SendCancel(ctx, r.Addr, r.PID, r.Key)
}

// tokenKey and wireKey name a connection's routes in the store: by the
// cancel token of its Hello (stile connect), and by the key data a
// PostgreSQL client got from the server's listener.
func tokenKey(token string) string { return "tok:" + secret.TokenHash(token) }

func wireKey(pid uint32, key []byte) string {
	h := sha256.New()
	binary.Write(h, binary.BigEndian, pid)
	h.Write(key)
	return "pg:" + hex.EncodeToString(h.Sum(nil))
}

func cancelAD(keyHash string) string { return "cancel:" + keyHash }

// routeCancels gives c its cancel token and listener key data, and stores
// the route under both, sealed.
func (s *Connections) routeCancels(ctx context.Context, c *Connection, user string, r cancelRoute) error {
	c.Cancel = func(ctx context.Context) error { return s.send(ctx, r) }
	c.Hello.CancelToken = secret.NewToken()
	c.KeyData = make([]byte, 4)
	rand.Read(c.KeyData)
	plain, _ := json.Marshal(r)
	c.cancelKeys = []string{tokenKey(c.Hello.CancelToken), wireKey(c.Hello.PID, c.KeyData)}
	routes := make([]store.CancelRoute, len(c.cancelKeys))
	for i, k := range c.cancelKeys {
		routes[i] = store.CancelRoute{KeyHash: k, User: user, Route: []byte(s.box.Seal(string(plain), cancelAD(k))), CreatedAt: s.now()}
	}
	return s.store.PutCancelRoutes(ctx, routes...)
}

// storedRoute opens the route stored under keyHash for p: only the
// connection's own user or an admin may use it; to anyone else it does not
// exist. p nil means the caller holds the key data itself (a PostgreSQL
// CancelRequest), which is all PostgreSQL asks.
func (s *Connections) storedRoute(ctx context.Context, p *Principal, keyHash string) (cancelRoute, error) {
	var r cancelRoute
	sr, err := s.store.CancelRoute(ctx, keyHash)
	if err == nil && p != nil && sr.User != p.User && !p.Admin {
		err = errs.New(errs.NotFound, "no such connection")
	}
	if err != nil {
		return r, err
	}
	plain, err := s.box.Open(string(sr.Route), cancelAD(keyHash))
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal([]byte(plain), &r)
}

// CancelQuery cancels the query running on the connection whose Hello
// carried token, as PostgreSQL's CancelRequest does, whichever replica the
// connection is on. Only the connection's own user (or an admin) may cancel
// it; to anyone else it does not exist.
func (s *Connections) CancelQuery(ctx context.Context, p Principal, token string) error {
	if c := s.conns.byCancelToken(token); c != nil && (c.user == p.User || p.Admin) {
		return c.Cancel(ctx)
	}
	r, err := s.storedRoute(ctx, &p, tokenKey(token))
	if err != nil {
		return errs.New(errs.NotFound, "no such connection")
	}
	return s.send(ctx, r)
}

// CancelByKey passes on a PostgreSQL CancelRequest that reached this
// replica's listener for a connection another replica holds.
func (s *Connections) CancelByKey(ctx context.Context, pid uint32, key []byte) error {
	r, err := s.storedRoute(ctx, nil, wireKey(pid, key))
	if err != nil {
		return errs.New(errs.NotFound, "cancel request for an unknown connection")
	}
	return s.send(ctx, r)
}

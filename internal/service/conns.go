package service

import (
	"context"
	"sync"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// openConns tracks this server's relayed connections, so that taking
// someone's access away closes theirs.
type openConns struct {
	mu sync.Mutex
	m  map[*Connection]*openConn
	// byToken finds a connection by its Hello's cancel token.
	byToken map[string]*Connection
}

type openConn struct {
	cancel context.CancelFunc
	// closed says why stile closed it, if it did.
	closed string
}

func (o *openConns) add(c *Connection, cancel context.CancelFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m, o.byToken = map[*Connection]*openConn{}, map[string]*Connection{}
	}
	o.m[c] = &openConn{cancel: cancel}
	if c.Hello.CancelToken != "" {
		o.byToken[c.Hello.CancelToken] = c
	}
}

func (o *openConns) byCancelToken(token string) *Connection {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byToken[token]
}

// remove forgets c and returns why stile closed it ("" if it did not).
func (o *openConns) remove(c *Connection) (closed string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if oc := o.m[c]; oc != nil {
		closed = oc.closed
	}
	delete(o.m, c)
	delete(o.byToken, c.Hello.CancelToken)
	return closed
}

// list returns the open connections.
func (o *openConns) list() []*Connection {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]*Connection, 0, len(o.m))
	for c := range o.m {
		out = append(out, c)
	}
	return out
}

// close ends c, recording why.
func (o *openConns) close(c *Connection, why string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if oc := o.m[c]; oc != nil && oc.closed == "" {
		oc.closed = why
		oc.cancel()
	}
}

// EnforceAccess closes this server's open connections whose user may no
// longer use their role: the user was disabled or removed, the token it
// was opened with revoked, the user left the group, the group lost the
// grant or its grant ended, or the approved window it was opened in
// ended. Changes made on this server enforce
// at once; EnforceAccessEvery brings other replicas' changes.
func (s *Connections) EnforceAccess(ctx context.Context) error {
	open := s.conns.list()
	if len(open) == 0 {
		return nil
	}
	users, err := s.store.Users(ctx)
	if err != nil {
		return err
	}
	v, err := s.view(ctx)
	if err != nil {
		return err
	}
	tokens, err := s.store.Tokens(ctx, "")
	if err != nil {
		return err
	}
	live := make(map[string]bool, len(tokens))
	for _, k := range tokens {
		live[k.Hash] = k.RevokedAt.IsZero()
	}
	byName := make(map[string]store.User, len(users))
	for _, u := range users {
		byName[u.Name] = u
	}
	for _, c := range open {
		if c.user == Admin.User {
			continue // the admin token
		}
		var why string
		switch u, ok := byName[c.user]; {
		case !ok:
			why = "user " + c.user + " no longer exists"
		case u.Disabled:
			why = "user " + c.user + " was disabled"
		case c.tokenHash != "" && !live[c.tokenHash]:
			why = "the token it was opened with was revoked"
		case !u.Admin && !v.mayConnect(c.user, c.sess.Role):
			why = c.user + " may no longer use " + c.sess.Role
			if v.eligible(c.user, c.sess.Role) {
				why = c.user + "'s access window on " + c.sess.Role + " ended"
			}
		}
		if why != "" {
			s.log.Info("connection closed", "role", c.sess.Role, "user", c.user, "why", why)
			s.conns.close(c, why)
		}
	}
	return nil
}

// enforceNow runs EnforceAccess after an access change made here.
func (s *Connections) enforceNow(ctx context.Context) {
	if err := s.EnforceAccess(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("enforce access", "err", err)
	}
}

// EnforceInterval is how often each replica re-checks its open connections
// against the store.
const EnforceInterval = 3 * time.Second

// EnforceAccessEvery runs EnforceAccess every interval until ctx ends, so
// that access taken away on another replica closes connections here too.
func (s *Connections) EnforceAccessEvery(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() { s.enforceNow(ctx) })
}

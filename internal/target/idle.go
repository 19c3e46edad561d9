package target

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultIdleTimeout is how long an admin connection is kept for reuse
// after its last use, unless SetIdleTimeout says otherwise.
const DefaultIdleTimeout = time.Minute

// maxIdle bounds the idle connections kept per target and database (as
// many as a catalog read uses at once), and maxIdleTotal all of them: a
// check of a whole fleet does not keep a connection to every database.
const (
	maxIdle      = 4
	maxIdleTotal = 32
)

// idle keeps admin connections a while after use, so that a plan or apply
// right after another (a re-plan after an apply, a drift check from CI, the
// next batch) does not connect, authenticate and warm a new backend's
// catalog caches for every database again: on a cluster of a few thousand
// tables that is most of a read. Connections are kept per target (user,
// password, host, port, sslmode) and database, checked alive before reuse,
// and closed once idle past the timeout; a changed admin password is another
// key, so its old connections are never reused.
var idle = &idlePool{ttl: DefaultIdleTimeout, conns: map[string][]idleConn{}}

type idlePool struct {
	mu      sync.Mutex
	ttl     time.Duration
	conns   map[string][]idleConn
	sweeper bool
}

type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

// SetIdleTimeout sets how long admin connections are kept idle for reuse;
// zero or less closes each one after its use.
func SetIdleTimeout(d time.Duration) {
	idle.mu.Lock()
	idle.ttl = max(d, 0)
	idle.mu.Unlock()
	idle.sweep(time.Now())
}

func (t Target) idleKey(database string) string {
	return fmt.Sprintf("%s|%s|%d|%s|%x|%s", t.User, t.Host, t.Port, t.SSLMode, sha256.Sum256([]byte(t.Password)), database)
}

// Borrow returns a connection to database: one kept idle from an earlier
// use when there is one that still answers, else a new one (Connect). Give
// it back with Return.
func (t Target) Borrow(ctx context.Context, database string) (*pgx.Conn, error) {
	key := t.idleKey(database)
	for {
		idle.mu.Lock()
		list := idle.conns[key]
		if len(list) == 0 {
			idle.mu.Unlock()
			return t.Connect(ctx, database)
		}
		c := list[len(list)-1]
		idle.conns[key] = list[:len(list)-1]
		idle.mu.Unlock()
		if err := c.conn.Ping(ctx); err == nil {
			return c.conn, nil
		}
		c.conn.Close(context.WithoutCancel(ctx))
	}
}

// Return gives back a connection Borrow gave. It is kept for reuse when
// reuse is true and the connection is idle outside a transaction; otherwise
// (or when enough are kept already, or keeping is off) it is closed.
func (t Target) Return(database string, c *pgx.Conn, reuse bool) {
	if c == nil {
		return
	}
	idle.mu.Lock()
	key := t.idleKey(database)
	keep := reuse && idle.ttl > 0 && !c.IsClosed() && c.PgConn().TxStatus() == 'I' &&
		len(idle.conns[key]) < maxIdle && idle.count() < maxIdleTotal
	if keep {
		idle.conns[key] = append(idle.conns[key], idleConn{conn: c, since: time.Now()})
		if !idle.sweeper {
			idle.sweeper = true
			go idle.sweepEvery()
		}
	}
	idle.mu.Unlock()
	if !keep {
		c.Close(context.Background())
	}
}

// sweepEvery closes, every few seconds, the connections idle past the
// timeout, until none is left.
func (p *idlePool) sweepEvery() {
	for {
		time.Sleep(5 * time.Second)
		if p.sweep(time.Now()) == 0 {
			p.mu.Lock()
			if p.count() == 0 {
				p.sweeper = false
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
		}
	}
}

// sweep closes the connections idle past the timeout and returns how many
// are kept.
func (p *idlePool) sweep(now time.Time) int {
	var stale []*pgx.Conn
	p.mu.Lock()
	for key, list := range p.conns {
		kept := list[:0]
		for _, c := range list {
			if now.Sub(c.since) >= p.ttl {
				stale = append(stale, c.conn)
			} else {
				kept = append(kept, c)
			}
		}
		if len(kept) == 0 {
			delete(p.conns, key)
		} else {
			p.conns[key] = kept
		}
	}
	n := p.count()
	p.mu.Unlock()
	for _, c := range stale {
		c.Close(context.Background())
	}
	return n
}

func (p *idlePool) count() int {
	n := 0
	for _, list := range p.conns {
		n += len(list)
	}
	return n
}

// IdleConns reports how many admin connections are kept idle now.
func IdleConns() int {
	idle.mu.Lock()
	defer idle.mu.Unlock()
	return idle.count()
}

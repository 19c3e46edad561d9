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
// after its last use, unless the server or agent is told otherwise.
const DefaultIdleTimeout = time.Minute

// DefaultIdleMax is how many admin connections a pool keeps idle per
// cluster unless told otherwise: one to each of 64 databases. A read of a
// database on a new backend costs the connection, its authentication and
// the warming of the backend's catalog caches: 70 ms against 19 ms on a
// warm one for a database of 2,000 relations, so a re-plan of a cluster of
// 50 databases with a cap of 32 reconnected to a third of them every time.
// Each idle connection holds, for up to the idle timeout, one of the
// cluster's max_connections and a backend with its warm caches (a few MB
// of the database server's memory); a smaller cap trades re-plan time for
// them.
const DefaultIdleMax = 64

// maxIdle bounds the idle connections kept per target and database (as
// many as a catalog read uses at once), and maxIdleTotal all of them, of
// every cluster: a server over a hundred clusters keeps at most that many
// sockets open.
const (
	maxIdle      = 4
	maxIdleTotal = 512
)

// Pool keeps admin connections a while after use, so that a plan or apply
// right after another (a re-plan after an apply, a drift check from CI, the
// next batch) does not connect, authenticate and warm a new backend's
// catalog caches for every database again: on a cluster of a few thousand
// tables that is most of a read. Connections are kept per target (user,
// password, host, port, sslmode) and database, checked alive before reuse,
// and closed once idle past the timeout; a changed admin password is another
// key, so its old connections are never reused.
//
// The server and the remote agent each make one (NewPool) where they are
// wired and hand it to the code that borrows connections, through the
// targets it works on (Target.In). Its methods are safe for concurrent use.
type Pool struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int // per cluster
	conns   map[string][]idleConn
	sweeper bool
}

type idleConn struct {
	conn    *pgx.Conn
	since   time.Time
	cluster string
}

// NewPool returns a pool that keeps admin connections for ttl after their
// use, at most maxPerCluster of them idle per cluster (host and port);
// a ttl or maximum of zero or less keeps none (each is closed after its
// use).
func NewPool(ttl time.Duration, maxPerCluster int) *Pool {
	if maxPerCluster <= 0 {
		ttl = 0
	}
	return &Pool{ttl: max(ttl, 0), max: maxPerCluster, conns: map[string][]idleConn{}}
}

// Close closes the connections kept idle and keeps none from now on.
func (p *Pool) Close() {
	p.mu.Lock()
	p.ttl = 0
	p.mu.Unlock()
	p.sweep(time.Now())
}

// Idle reports how many admin connections are kept idle now.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count()
}

// In returns t with its connections lent by p (Borrow, Return); nil keeps
// none. The pool is not part of the target's JSON: an agent attaches its own
// to the targets its jobs carry.
func (t Target) In(p *Pool) Target {
	t.pool = p
	return t
}

func (t Target) idleKey(database string) string {
	return fmt.Sprintf("%s|%s|%d|%s|%x|%s", t.User, t.Host, t.Port, t.SSLMode, sha256.Sum256([]byte(t.Password)), database)
}

// Borrow returns a connection to database: one kept idle in the target's
// pool (Target.In) from an earlier use when there is one that still
// answers, else a new one (Connect). Give it back with Return.
func (t Target) Borrow(ctx context.Context, database string) (*pgx.Conn, error) {
	p := t.pool
	if p == nil {
		return t.Connect(ctx, database)
	}
	key := t.idleKey(database)
	for {
		p.mu.Lock()
		list := p.conns[key]
		if len(list) == 0 {
			p.mu.Unlock()
			return t.Connect(ctx, database)
		}
		c := list[len(list)-1]
		p.conns[key] = list[:len(list)-1]
		p.mu.Unlock()
		if err := c.conn.Ping(ctx); err == nil {
			return c.conn, nil
		}
		c.conn.Close(context.WithoutCancel(ctx))
	}
}

// Return gives back a connection Borrow gave. It is kept in the target's
// pool for reuse when reuse is true and the connection is idle outside a
// transaction; otherwise (or when enough are kept already, or the target has
// no pool, or the pool keeps none) it is closed.
func (t Target) Return(database string, c *pgx.Conn, reuse bool) {
	if c == nil {
		return
	}
	keep := false
	if p := t.pool; p != nil {
		p.mu.Lock()
		key := t.idleKey(database)
		cluster := t.ClusterKey()
		keep = reuse && p.ttl > 0 && !c.IsClosed() && c.PgConn().TxStatus() == 'I' &&
			len(p.conns[key]) < maxIdle && p.countIn(cluster) < p.max && p.count() < maxIdleTotal
		if keep {
			p.conns[key] = append(p.conns[key], idleConn{conn: c, since: time.Now(), cluster: cluster})
			if !p.sweeper {
				p.sweeper = true
				go p.sweepEvery()
			}
		}
		p.mu.Unlock()
	}
	if !keep {
		c.Close(context.Background())
	}
}

// sweepEvery closes, every few seconds, the connections idle past the
// timeout, until none is left.
func (p *Pool) sweepEvery() {
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
func (p *Pool) sweep(now time.Time) int {
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

// countIn counts the idle connections to cluster (Target.ClusterKey).
func (p *Pool) countIn(cluster string) int {
	n := 0
	for _, list := range p.conns {
		for _, c := range list {
			if c.cluster == cluster {
				n++
			}
		}
	}
	return n
}

func (p *Pool) count() int {
	n := 0
	for _, list := range p.conns {
		n += len(list)
	}
	return n
}

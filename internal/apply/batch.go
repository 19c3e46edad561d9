package apply

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/target"
)

// Run applies one job: RunBatch with a batch of one.
func Run(ctx context.Context, job Job) Report {
	return RunBatch(ctx, []Job{job}, nil)[0]
}

// RunBatch applies jobs, all on one cluster, in their order: it takes the
// cluster's advisory lock once, reads the catalog once for all of them (once
// per admin account, when resources on the cluster use different ones),
// re-plans each against that read, skips a job in sync and refuses one that
// drifted. The jobs that run go in segments: a segment's role-level blocks
// run in one transaction, then each database's blocks in one transaction,
// each job in a savepoint (runSegment). One job's failure rolls back its
// savepoint only; the others commit. report, when set, is called with each
// job's report, in order, as its segment ends; RunBatch returns them all.
//
// A job applied earlier in the batch can change what a later one sees (who
// may create in a schema, a role's memberships: plan.Result.ReachesOthers).
// So a job whose plan reaches others ends its segment, and every later job
// is re-planned against a fresh read, and refused as drift unless that
// re-plan matches its reviewed plan. A job whose re-plan does not match
// while earlier jobs wait to run (it waits for a role one of them creates)
// starts the next segment: it is re-planned against a fresh read once they
// ran, before it is refused.
func RunBatch(ctx context.Context, jobs []Job, report func(int, Report)) []Report {
	reps := make([]Report, len(jobs))
	done := func(i int, r *runner) {
		r.rep.Output = r.out.String()
		reps[i] = r.rep
		if report != nil {
			report(i, r.rep)
		}
	}
	if len(jobs) == 0 {
		return reps
	}
	b := &batch{jobs: jobs, snaps: map[string]*reading{}, conns: &connPool{}}
	defer b.conns.close(context.WithoutCancel(ctx))
	header, err := b.lock(ctx, jobs[0].Target)
	if err != nil {
		for i, job := range jobs {
			r := newRunner(job)
			r.fail(err)
			done(i, r)
		}
		return reps
	}
	defer b.conn.Close(context.WithoutCancel(ctx))
	runners := make([]*runner, len(jobs))
	for i, job := range jobs {
		runners[i] = newRunner(job)
		runners[i].logf("%s", header)
	}
	for first := 0; first < len(jobs); {
		end, items := b.segment(ctx, runners, first)
		b.runSegment(ctx, items)
		for _, it := range items {
			if it.r.rep.Outcome == Applied || len(it.r.rep.Committed) > 0 {
				for _, rd := range b.snaps {
					rd.stale = true
					rd.reached = rd.reached || it.fresh.ReachesOthers
				}
			}
		}
		for i := first; i < end; i++ {
			runners[i].rep.Seconds = time.Since(runners[i].start).Seconds()
			done(i, runners[i])
		}
		first = end
	}
	return reps
}

// segment re-plans the jobs from first on and returns where the segment
// ends and the items that run in it; the jobs of the segment that do not
// run (in sync, drifted, failed) have their reports.
func (b *batch) segment(ctx context.Context, runners []*runner, first int) (end int, items []*item) {
	cluster := runners[0].job.Target.ClusterKey()
	for i := first; i < len(runners); i++ {
		r := runners[i]
		r.start = time.Now()
		switch {
		case r.job.Target.ClusterKey() != cluster:
			r.fail(errs.New(errs.Internal, "a job for %s in a batch for %s", r.job.Target.ClusterKey(), cluster))
			continue
		case ctx.Err() != nil:
			r.fail(errs.New(errs.Unavailable, "not started: %v", ctx.Err()))
			continue
		}
		rd, err := b.read(ctx, r.job.Target, false)
		if err != nil {
			r.fail(fmt.Errorf("re-inspect: %w", err))
			continue
		}
		var fresh plan.Result
		if !rd.reached {
			fresh = rd.planner.Make(r.job.Input)
		}
		if len(items) > 0 && (!matches(fresh, r.job) || !roleFirst(fresh.Blocks)) {
			// It waits for the items before it, or runs alone.
			return i, items
		}
		if rd.reached || (rd.stale && !matches(fresh, r.job)) {
			if rd, err = b.read(ctx, r.job.Target, true); err != nil {
				r.fail(fmt.Errorf("re-inspect: %w", err))
				continue
			}
			fresh = rd.planner.Make(r.job.Input)
		}
		r.snap = rd.snap
		if !r.decide(fresh) {
			continue
		}
		items = append(items, &item{index: i, target: r.job.Target.String(), r: r, fresh: fresh, blocks: slices.Clone(fresh.Blocks)})
		if fresh.ReachesOthers || !roleFirst(fresh.Blocks) {
			return i + 1, items
		}
	}
	return len(runners), items
}

// batch is one RunBatch: the lock connection, the catalog reads and the
// block connections its jobs share.
type batch struct {
	jobs  []Job
	conn  *pgx.Conn
	snaps map[string]*reading // by reader: Target.String()
	conns *connPool
}

// connPool keeps a batch's block connections, one per target and database,
// so that the jobs of a batch do not each connect (and authenticate) anew.
// A block that fails closes its connection: its session state is unknown.
type connPool struct {
	conns map[string]*blockConn
}

// blockConn is a connection blocks run on, with the notices PostgreSQL
// sent on it since the last reset.
type blockConn struct {
	key     string
	t       target.Target
	db      string
	conn    *pgx.Conn
	mu      sync.Mutex
	notices []*pgconn.Notice
}

// warning returns the first warning (class 01) noticed since the last
// call, and forgets them all.
func (c *blockConn) warning() *pgconn.Notice {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() { c.notices = c.notices[:0] }()
	for _, n := range c.notices {
		if strings.HasPrefix(n.Code, "01") {
			return n
		}
	}
	return nil
}

func (p *connPool) get(ctx context.Context, t target.Target, db string) (*blockConn, error) {
	key := t.String() + "|" + db
	if c := p.conns[key]; c != nil {
		return c, nil
	}
	conn, err := t.Borrow(ctx, db)
	if err != nil {
		return nil, err
	}
	c := &blockConn{key: key, t: t, db: db, conn: conn}
	// Notices reach the block that runs on the connection, through c.
	target.SetNoticeSink(conn, func(n *pgconn.Notice) {
		c.mu.Lock()
		c.notices = append(c.notices, n)
		c.mu.Unlock()
	})
	if p.conns == nil {
		p.conns = map[string]*blockConn{}
	}
	p.conns[key] = c
	return c, nil
}

func (p *connPool) drop(ctx context.Context, c *blockConn) {
	if p.conns[c.key] == c {
		delete(p.conns, c.key)
	}
	target.SetNoticeSink(c.conn, nil)
	c.conn.Close(ctx)
}

// close gives the batch's connections back for reuse: each served blocks
// that ended well (a failed one's was dropped).
func (p *connPool) close(context.Context) {
	for _, c := range p.conns {
		target.SetNoticeSink(c.conn, nil)
		c.t.Return(c.db, c.conn, true)
	}
	p.conns = nil
}

// reading is one read of the catalog and the planner over it. stale is set
// once a job of the batch applied after the read; reached once the plan of
// such a job reached others (plan.Result.ReachesOthers): then no plan made
// from it can be trusted.
type reading struct {
	snap    *catalog.Snapshot
	planner *plan.Batch
	stale   bool
	reached bool
}

// lock connects to t's lock database and waits for the cluster's advisory
// lock; it returns the line each job's output starts with.
func (b *batch) lock(ctx context.Context, t target.Target) (string, error) {
	lockDB := cmp.Or(t.LockDatabase, "postgres")
	conn, err := t.Connect(ctx, lockDB)
	if err != nil {
		return "", fmt.Errorf("lock connection: %w", err)
	}
	class, lockKey := LockKeys(t)
	lctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	_, err = conn.Exec(lctx, "SELECT pg_advisory_lock($1, $2)", class, lockKey)
	cancel()
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return "", fmt.Errorf("wait for the cluster's apply lock: %w", err)
	}
	b.conn = conn
	header := fmt.Sprintf("-- holding advisory lock (%d, %d) on database %s", class, lockKey, lockDB)
	if len(b.jobs) > 1 {
		header += fmt.Sprintf(" for a batch of %d", len(b.jobs))
	}
	return header, nil
}

// read returns the batch's catalog read for t's reader, reading it (for
// every job of the batch with that reader) when there is none yet or fresh.
func (b *batch) read(ctx context.Context, t target.Target, fresh bool) (*reading, error) {
	key := t.String()
	if rd := b.snaps[key]; rd != nil && !fresh {
		return rd, nil
	}
	var inputs []plan.Input
	for _, j := range b.jobs {
		if j.Target.String() == key {
			inputs = append(inputs, j.Input)
		}
	}
	snap, err := Inspect(ctx, t, inputs)
	if err != nil {
		return nil, err
	}
	rd := &reading{snap: snap, planner: plan.NewBatch(snap)}
	b.snaps[key] = rd
	return rd, nil
}

// matches reports whether a re-plan can go ahead as reviewed: in sync, or
// the reviewed checksum with nothing left to wait for.
func matches(fresh plan.Result, job Job) bool {
	if fresh.Status == plan.ItemInSync {
		return true
	}
	return fresh.Status == plan.ItemOutOfSync && fresh.Document.Checksum == job.Checksum && len(fresh.Document.Requires) == 0
}

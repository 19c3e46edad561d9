package apply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/sqlq"
	"github.com/stile-dev/stile/internal/target"
)

// maxItemsPerTx bounds the items, and so the savepoints, of one
// transaction. A backend caches the ids of 64 subtransactions; past that
// its cache overflows and every snapshot the cluster takes while the
// transaction is open looks in pg_subtrans.
const maxItemsPerTx = 64

// item is a job of a segment that runs: its runner, its re-plan, its
// blocks (a block retried is re-planned in place) and whether it failed.
type item struct {
	index  int    // in the batch: names its savepoints
	target string // its job's Target.String(): the admin account it runs as
	r      *runner
	fresh  plan.Result
	blocks []plan.Block
	failed bool
}

// phase is where one transaction of a segment runs: a target (an admin
// account) and a database; db "" is the role-level statements, run on the
// target's own database.
type phase struct {
	t      target.Target
	target string // t.String()
	db     string
}

func (p phase) is(o phase) bool { return p.db == o.db && p.target == o.target }

// name is the block's name in reports: its database, or "role".
func (p phase) name() string { return cmp.Or(p.db, "role") }

func (it *item) block(ph phase) (int, bool) {
	if it.target != ph.target {
		return 0, false
	}
	i := slices.IndexFunc(it.blocks, func(b plan.Block) bool { return b.Database == ph.db })
	return i, i >= 0
}

func (it *item) savepoint() string { return fmt.Sprintf("item_%d", it.index+1) }

// fail ends the item in phase ph with err: what committed before stays,
// nothing after runs.
func (it *item) fail(ph phase, err error) {
	if it.failed {
		return
	}
	it.failed = true
	err = fmt.Errorf("block %s: %w", ph.name(), err)
	if c := it.r.rep.Committed; len(c) > 0 {
		err = fmt.Errorf("%w (committed before the failure: %s; re-plan to see what is left)", err, strings.Join(c, ", "))
	}
	if ph.db == "" && it.fresh.NeedsPassword && it.r.rep.Password == PasswordNone {
		it.r.rep.Password = PasswordNotSet
	}
	it.r.fail(err)
}

// phases returns the transactions of a segment in order: every role-level
// phase, then every database, each in the order the items first name it.
// A segment of one item runs its blocks in its own order (a retirement's
// role block comes last).
func phases(items []*item) []phase {
	var roles, dbs []phase
	add := func(list *[]phase, ph phase) {
		if !slices.ContainsFunc(*list, ph.is) {
			*list = append(*list, ph)
		}
	}
	for _, it := range items {
		for _, b := range it.blocks {
			ph := phase{t: it.r.job.Target, target: it.target, db: b.Database}
			switch {
			case len(items) == 1:
				add(&dbs, ph)
			case b.Database == "":
				add(&roles, ph)
			default:
				add(&dbs, ph)
			}
		}
	}
	return append(roles, dbs...)
}

// roleFirst reports whether blocks can share a segment's transactions: a
// role-level block, if any, comes first.
func roleFirst(blocks []plan.Block) bool {
	return !slices.ContainsFunc(blocks[min(1, len(blocks)):], func(b plan.Block) bool { return b.Database == "" })
}

// runSegment runs the items of a segment, phase by phase: each phase's
// items in one transaction (up to maxItemsPerTx; more take several), each
// item in a savepoint of its own. An item that fails is rolled back to its
// savepoint and runs no further phase; the others go on.
func (b *batch) runSegment(ctx context.Context, items []*item) {
	for _, ph := range phases(items) {
		var in []*item
		for _, it := range items {
			if _, ok := it.block(ph); ok && !it.failed {
				in = append(in, it)
			}
		}
		for chunk := range slices.Chunk(in, maxItemsPerTx) {
			x := &txn{lock: b.conn, conns: b.conns, ph: ph, items: chunk}
			x.run(ctx)
		}
	}
	for _, it := range items {
		if it.failed {
			continue
		}
		r := it.r
		r.rep.Outcome, r.rep.Message = Applied, fmt.Sprintf("applied %d block(s)", len(it.blocks))
		if n := len(it.fresh.Document.CurrentState.Unmanaged); n > 0 {
			r.rep.Message += fmt.Sprintf("; %d unmanaged item(s) remain for a person to resolve", n)
		}
	}
}

// txn is one transaction of a segment: its items' blocks of one phase.
type txn struct {
	lock  *pgx.Conn
	conns *connPool
	ph    phase
	items []*item
	bc    *blockConn
}

// logf writes a line to the output of every item of the transaction that
// has not failed.
func (x *txn) logf(format string, args ...any) {
	for _, it := range x.items {
		if !it.failed {
			it.r.logf(format, args...)
		}
	}
}

// failAll fails every item still going: the transaction rolls back, or
// is lost.
func (x *txn) failAll(err error) {
	for _, it := range x.items {
		it.fail(x.ph, err)
	}
}

// run runs the transaction: BEGIN, each item in its savepoint, one
// verification of them all, COMMIT.
func (x *txn) run(ctx context.Context) {
	t := x.ph.t
	db := cmp.Or(x.ph.db, t.Database)
	if x.ph.db == "" {
		x.logf("\n-- role-level statements on database %s", db)
	} else {
		x.logf("\n%s", sqlq.PsqlConnect(db))
	}
	bc, err := x.conns.get(ctx, t, db)
	if err != nil {
		x.failAll(err)
		return
	}
	x.bc = bc
	conn := bc.conn
	quiet := false
	lost := false
	defer func() {
		// A lost transaction leaves the connection in a state nobody
		// knows, and one whose RESET failed keeps a setting: close either.
		if quiet && !lost {
			if _, err := conn.Exec(context.WithoutCancel(ctx), "RESET log_statement; RESET log_min_duration_statement"); err != nil {
				lost = true
			}
		}
		if lost {
			x.conns.drop(context.WithoutCancel(ctx), bc)
		}
	}()
	bc.warning()
	job := x.items[0].r.job
	if x.ph.db == "" && x.items[0].r.snap.Server.Superuser && slices.ContainsFunc(x.items, func(it *item) bool { return it.fresh.NeedsPassword }) {
		// Keep the verifiers out of the server log (log_statement = ddl or
		// all, or a duration logged with its statement), for this
		// transaction only: the connection goes on to other blocks.
		if _, err := conn.Exec(ctx, "SET log_statement = 'none'; SET log_min_duration_statement = -1"); err != nil {
			lost = true
			x.failAll(fmt.Errorf("SET log_statement: %w", err))
			return
		}
		quiet = true
		x.logf("SET log_statement = 'none'; SET log_min_duration_statement = -1;")
	}
	begin := "BEGIN; SET LOCAL lock_timeout = " + sqlq.Literal(durationSetting(job.LockTimeout, 5*time.Second)) +
		"; SET LOCAL statement_timeout = " + sqlq.Literal(durationSetting(job.StatementTimeout, 60*time.Second))
	if _, err := conn.Exec(ctx, begin); err != nil {
		lost = true
		x.failAll(fmt.Errorf("BEGIN: %w", err))
		return
	}
	if n := len(x.items); n > 1 {
		x.logf("BEGIN;  -- one transaction for %d items of the batch", n)
	} else {
		x.logf("BEGIN;")
	}
	committed := false
	defer func() {
		if !committed && !lost {
			if _, err := conn.Exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
				lost = true
			}
		}
	}()
	var live []*item
	for _, it := range x.items {
		if err := x.runItem(ctx, it); err != nil {
			lost = true
			x.failAll(err)
			return
		}
		if !it.failed {
			live = append(live, it)
		}
	}
	live, err = x.verify(ctx, live)
	if err != nil {
		lost = !isPg(err)
		x.failAll(err)
		return
	}
	if len(live) == 0 {
		return
	}
	if err := x.lock.Ping(ctx); err != nil {
		x.failAll(fmt.Errorf("the advisory lock connection was lost: %w", err))
		return
	}
	if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
		// A COMMIT PostgreSQL refused rolled back; one without an answer
		// may have committed.
		lost = true
		pw := PasswordNotSet
		if !isPg(err) {
			pw = PasswordUnknown
		}
		for _, it := range live {
			if x.ph.db == "" && it.fresh.NeedsPassword {
				it.r.rep.Password = pw
			}
		}
		x.failAll(fmt.Errorf("COMMIT: %w", err))
		return
	}
	committed = true
	x.logf("COMMIT;")
	for _, it := range live {
		it.r.rep.Committed = append(it.r.rep.Committed, x.ph.name())
		if x.ph.db == "" && it.fresh.NeedsPassword {
			it.r.rep.Password = PasswordSet
		}
	}
}

// runItem runs the block of it in a savepoint, and on failure rolls back to the
// savepoint: a failure PostgreSQL answered fails the item, and one a fresh
// attempt can get past (a concurrent catalog update, a lock timeout) is
// retried with the block re-planned from a re-read inside the transaction.
// It returns an error only when the transaction itself is lost.
func (x *txn) runItem(ctx context.Context, it *item) error {
	k, _ := it.block(x.ph)
	for attempt := 1; ; attempt++ {
		err, lost := x.exec(ctx, it, it.blocks[k].Steps)
		if err == nil {
			return nil
		}
		if lost {
			return err
		}
		if err := x.rollbackTo(ctx, it); err != nil {
			return err
		}
		if !retryable(err) || attempt == maxAttempts {
			// PostgreSQL's answer to the admin's statement: theirs to read.
			it.fail(x.ph, errs.New(errs.Failed, "%s", describe(err)))
			return nil
		}
		backoff := time.Duration(100<<attempt)*time.Millisecond + rand.N(100*time.Millisecond)
		it.r.logf("-- retrying block %s in %s after: %s", x.ph.name(), backoff.Round(time.Millisecond), oneLine(describe(err)))
		time.Sleep(backoff)
		snap, err := x.read(ctx, []*item{it})
		if err != nil {
			if !isPg(err) {
				return err
			}
			if err := x.rollbackTo(ctx, it); err != nil {
				return err
			}
			it.fail(x.ph, fmt.Errorf("re-inspect: %w", err))
			return nil
		}
		// Re-plan this block from the read: what committed before it, and
		// the items before it in this transaction, are reflected there.
		nb, ok := blockFor(plan.Make(snap, it.r.job.Input), x.ph.db)
		if !ok {
			it.r.logf("-- block %s is already in the desired state", x.ph.name())
			nb = plan.Block{Database: x.ph.db}
		}
		it.blocks[k] = nb
	}
}

// rollbackTo rolls the transaction back to the savepoint of it.
func (x *txn) rollbackTo(ctx context.Context, it *item) error {
	if _, err := x.bc.conn.Exec(ctx, "ROLLBACK TO SAVEPOINT "+it.savepoint()); err != nil {
		return fmt.Errorf("ROLLBACK TO SAVEPOINT: %w", err)
	}
	it.r.logf("ROLLBACK TO SAVEPOINT %s;", it.savepoint())
	return nil
}

// exec runs steps, the block of it, in a savepoint of the transaction, as one pipelined
// batch (one round trip), and logs each with its result. The statements
// are one-offs (role names in them): they go as unnamed statements, never
// prepared or cached. The first statement that fails, or that PostgreSQL
// answers with a warning (class 01: a GRANT or REVOKE it reports as
// success but that changed nothing), fails the block: the transaction
// stays, for a ROLLBACK TO the savepoint, unless lost.
func (x *txn) exec(ctx context.Context, it *item, steps []plan.Step) (err error, lost bool) {
	r := it.r
	stmts := append([]string{"SAVEPOINT " + it.savepoint()}, plan.SQL(steps)...)
	const setup = 1
	r.logf("%s;", stmts[0])
	x.bc.warning() // forget what came before: the notices now are this block's
	placeholder, verifier := sqlq.Literal(plan.PasswordPlaceholder), sqlq.Literal(r.job.Verifier)
	batch := &pgconn.Batch{}
	for _, s := range stmts {
		batch.ExecParams(strings.Replace(s, placeholder, verifier, 1), nil, nil, nil, nil)
	}
	mrr := x.bc.conn.PgConn().ExecBatch(ctx, batch)
	done := 0
	var failed error
	for ; done < len(stmts) && mrr.NextResult(); done++ {
		tag, err := mrr.ResultReader().Close()
		if err != nil {
			failed = err
			break
		}
		if done < setup {
			continue
		}
		// A statement's notices arrive before its result: they are in.
		s := stmts[done]
		if warn := x.bc.warning(); warn != nil {
			r.logf("%s;  -- WARNING %s: %s", s, warn.Code, oneLine(warn.Message))
			if err := mrr.Close(); err != nil {
				return err, !isPg(err)
			}
			return errs.New(errs.Failed, "%s: WARNING %s: %s (PostgreSQL reported success but changed nothing)", s, warn.Code, warn.Message), false
		}
		r.logf("%s;  -- %s", s, tag.String())
	}
	if err := mrr.Close(); failed == nil {
		failed = err
	}
	switch {
	case failed == nil && done < len(stmts):
		return errs.New(errs.Failed, "%d of %d statements ran: the server answered no more", done-setup, len(stmts)-setup), true
	case failed == nil:
		return nil, false
	case done < setup:
		// No savepoint to go back to.
		return fmt.Errorf("%s: %w", stmts[done], failed), true
	case done < len(stmts):
		r.logf("%s;  -- ERROR: %s", stmts[done], oneLine(describe(failed)))
	}
	return failed, !isPg(failed)
}

// isPg reports whether err is PostgreSQL's answer to a statement: the
// transaction is then still there (aborted, until a ROLLBACK TO). Any
// other error (the connection broke, the context ended) lost it.
func isPg(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

// Package apply applies a reviewed plan to a cluster: under the cluster's
// advisory lock it re-inspects, re-plans, skips when in sync, refuses on
// drift, and otherwise runs each block in its own transaction, verified
// before COMMIT, and reports what committed and what happened to the
// password.
package apply

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/sqlq"
	"github.com/stile-dev/stile/internal/target"
)

// Outcome is how an apply ended.
type Outcome string

// Outcomes.
const (
	Applied Outcome = "applied" // every block committed
	Skipped Outcome = "skipped" // the re-plan was already in sync: nothing ran
	Drifted Outcome = "drift"   // the live state changed since the plan: nothing ran
	Failed  Outcome = "failed"  // see Report.Message and Report.Committed
)

// PasswordOutcome says whether the role's new password took effect.
type PasswordOutcome string

// Password outcomes.
const (
	PasswordNone    PasswordOutcome = ""        // the plan set no password
	PasswordSet     PasswordOutcome = "set"     // committed: promote pending
	PasswordNotSet  PasswordOutcome = "not-set" // rolled back: discard pending
	PasswordUnknown PasswordOutcome = "unknown" // commit outcome unknown: check a login
)

// Job is one apply: the declared role, the checksum of the reviewed plan and
// its state (for the drift report), and the SCRAM verifier of the pending
// password when the plan sets one.
type Job struct {
	Target   target.Target
	Input    plan.Input
	Checksum string
	State    plan.State
	Verifier string
	// LockTimeout and StatementTimeout apply to every block (SET LOCAL);
	// zero means 5s and 60s.
	LockTimeout, StatementTimeout time.Duration
}

// Report is what an apply did. Output holds the SQL as run (with the
// placeholder, never the verifier) and each statement's result.
type Report struct {
	Outcome   Outcome         `json:"outcome"`
	Message   string          `json:"message"`
	Output    string          `json:"output"`
	Committed []string        `json:"committed,omitempty"`
	Password  PasswordOutcome `json:"password,omitempty"`
	// Seconds is how long the job took in its batch, from its re-plan on.
	Seconds float64 `json:"seconds,omitempty"`
}

// lockClass is the first key of stile's advisory lock: the ASCII of "stl".
const lockClass = 0x73746c

// LockKeys returns the advisory lock every apply to t's cluster takes: one
// per host:port, so applies of different roles are serialized too (they
// contend on the same catalog rows).
func LockKeys(t target.Target) (int32, int32) {
	h := fnv.New32a()
	h.Write([]byte(t.ClusterKey()))
	return lockClass, int32(h.Sum32())
}

// maxAttempts bounds retries of a block on a serialization failure.
const maxAttempts = 3

func newRunner(job Job, lock *pgx.Conn) *runner {
	return &runner{job: job, rep: Report{Outcome: Failed}, lock: lock, conns: &connPool{}}
}

type runner struct {
	job   Job
	rep   Report
	out   strings.Builder
	snap  *catalog.Snapshot
	lock  *pgx.Conn
	conns *connPool
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(&r.out, format+"\n", args...)
}

func (r *runner) fail(err error) {
	r.rep.Outcome = Failed
	r.rep.Message = errs.Public(nil, err)
	r.logf("-- error: %s", oneLine(r.rep.Message))
}

// execute skips, refuses or runs the job after its re-plan, fresh.
func (r *runner) execute(ctx context.Context, fresh plan.Result) {
	switch {
	case fresh.Status == plan.ItemFailed:
		r.fail(errs.New(errs.Failed, "re-plan failed: %s", fresh.Message))
		return
	case fresh.Status == plan.ItemInSync:
		r.rep.Outcome, r.rep.Message = Skipped, "the cluster is already in the desired state: nothing to run"
		r.logf("-- re-plan is in sync: skipped")
		return
	case fresh.Document.Checksum != r.job.Checksum:
		r.rep.Outcome = Drifted
		r.rep.Message = fmt.Sprintf("the cluster changed since the plan (checksum %s, now %s): make a new plan", short(r.job.Checksum), short(fresh.Document.Checksum))
		r.logf("-- drift: nothing executed; current_state diff (- plan, + now):")
		r.out.WriteString(StateDiff(r.job.State, fresh.Document.CurrentState))
		return
	}
	if req := fresh.Document.Requires; len(req) > 0 {
		r.fail(errs.New(errs.Conflict, "the plan sets default privileges for %s, declared in the same batch with CREATE, which does not exist yet: apply its plan first", strings.Join(req, ", ")))
		return
	}
	if fresh.NeedsPassword && r.job.Verifier == "" {
		r.fail(errs.New(errs.Internal, "the plan sets a password but the job carries none"))
		return
	}
	for _, b := range fresh.Blocks {
		if err := r.block(ctx, b, fresh.NeedsPassword); err != nil {
			if len(r.rep.Committed) > 0 {
				err = fmt.Errorf("%w (committed before the failure: %s; re-plan to see what is left)", err, strings.Join(r.rep.Committed, ", "))
			}
			r.fail(err)
			return
		}
	}
	r.rep.Outcome = Applied
	r.rep.Message = fmt.Sprintf("applied %d block(s)", len(fresh.Blocks))
	if n := len(fresh.Document.CurrentState.Unmanaged); n > 0 {
		r.rep.Message += fmt.Sprintf("; %d unmanaged item(s) remain for a person to resolve", n)
	}
}

// block runs one block, retrying on serialization failures with a fresh
// re-read and re-plan of that block.
func (r *runner) block(ctx context.Context, b plan.Block, setsPassword bool) error {
	name := b.Database
	if name == "" {
		name = "role"
	}
	for attempt := 1; ; attempt++ {
		err := r.runBlock(ctx, b, setsPassword && b.Database == "")
		if err == nil {
			r.rep.Committed = append(r.rep.Committed, name)
			return nil
		}
		if !retryable(err) || attempt == maxAttempts {
			return fmt.Errorf("block %s: %w", name, err)
		}
		backoff := time.Duration(100<<attempt)*time.Millisecond + rand.N(100*time.Millisecond)
		r.logf("-- retrying block %s in %s after: %s", name, backoff.Round(time.Millisecond), oneLine(errs.Public(nil, err)))
		time.Sleep(backoff)
		snap, err := Inspect(ctx, r.job.Target, []plan.Input{r.job.Input})
		if err != nil {
			return fmt.Errorf("block %s: re-inspect: %w", name, err)
		}
		r.snap = snap
		// Re-plan this block from the fresh read; blocks that committed
		// before it are reflected there.
		nb, ok := blockFor(plan.Make(snap, r.job.Input), b.Database)
		if !ok {
			r.logf("-- block %s is already in the desired state", name)
			r.rep.Committed = append(r.rep.Committed, name)
			return nil
		}
		b = nb
	}
}

// exec runs a block's statements in tx as one pipelined batch (one round
// trip), after the block's timeouts, and logs each with its result. The
// statements are one-offs (role names in them): they go as unnamed
// statements, never prepared or cached. The first statement that fails, or
// that PostgreSQL answers with a warning (class 01: a GRANT or REVOKE it
// reports as success but that changed nothing), fails the block; what
// follows it does not run.
func (r *runner) exec(ctx context.Context, tx pgx.Tx, bc *blockConn, steps []plan.Step) error {
	stmts := append([]string{
		"SET LOCAL lock_timeout = " + sqlq.Literal(durationSetting(r.job.LockTimeout, 5*time.Second)),
		"SET LOCAL statement_timeout = " + sqlq.Literal(durationSetting(r.job.StatementTimeout, 60*time.Second)),
	}, plan.SQL(steps)...)
	const setup = 2
	placeholder, verifier := sqlq.Literal(plan.PasswordPlaceholder), sqlq.Literal(r.job.Verifier)
	batch := &pgconn.Batch{}
	for _, s := range stmts {
		batch.ExecParams(strings.Replace(s, placeholder, verifier, 1), nil, nil, nil, nil)
	}
	mrr := tx.Conn().PgConn().ExecBatch(ctx, batch)
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
		if warn := bc.warning(); warn != nil {
			r.logf("%s;  -- WARNING %s: %s", s, warn.Code, oneLine(warn.Message))
			mrr.Close()
			return errs.New(errs.Failed, "%s: WARNING %s: %s (PostgreSQL reported success but changed nothing)", s, warn.Code, warn.Message)
		}
		r.logf("%s;  -- %s", s, tag.String())
	}
	if err := mrr.Close(); failed == nil {
		failed = err
	}
	switch {
	case failed == nil && done < len(stmts):
		return errs.New(errs.Failed, "%d of %d statements ran: the server answered no more", done-setup, len(stmts)-setup)
	case failed == nil:
		return nil
	case done < setup:
		return fmt.Errorf("%s: %w", stmts[done], failed)
	case done < len(stmts):
		r.logf("%s;  -- ERROR: %s", stmts[done], oneLine(describe(failed)))
	}
	// PostgreSQL's answer to the admin's statement: theirs to read.
	return errs.New(errs.Failed, "%s", describe(failed))
}

// verifyInput is the input a verification re-plan uses: the password is
// being set, so it is held and no longer to rotate.
func (r *runner) verifyInput() plan.Input {
	in := r.job.Input
	in.HasPassword = true
	in.Role.RotatePassword = false
	return in
}

func blockFor(res plan.Result, database string) (plan.Block, bool) {
	for _, b := range res.Blocks {
		if b.Database == database {
			return b, true
		}
	}
	return plan.Block{}, false
}

func (r *runner) runBlock(ctx context.Context, b plan.Block, setsPassword bool) (err error) {
	t := r.job.Target
	db := b.Database
	if db == "" {
		db = t.Database
		r.logf("\n-- role-level statements on database %s", db)
	} else {
		r.logf("\n%s", sqlq.PsqlConnect(db))
	}
	bc, err := r.conns.get(ctx, t, db)
	if err != nil {
		return err
	}
	conn := bc.conn
	reset := false
	defer func() {
		// A failed block leaves the connection in a state nobody knows,
		// and one whose RESET failed keeps a setting: close either.
		if reset && err == nil {
			if _, rerr := conn.Exec(context.WithoutCancel(ctx), "RESET log_statement; RESET log_min_duration_statement"); rerr != nil {
				r.conns.drop(context.WithoutCancel(ctx), bc)
			}
		}
		if err != nil {
			r.conns.drop(context.WithoutCancel(ctx), bc)
		}
	}()
	bc.warning()
	if setsPassword && r.snap.Server.Superuser {
		// Keep the verifier out of the server log (log_statement = ddl/all,
		// or a duration logged with its statement), for this block only:
		// the connection goes on to other blocks.
		if _, err := conn.Exec(ctx, "SET log_statement = 'none'; SET log_min_duration_statement = -1"); err != nil {
			return fmt.Errorf("SET log_statement: %w", err)
		}
		reset = true
		r.logf("SET log_statement = 'none'; SET log_min_duration_statement = -1;")
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("BEGIN: %w", err)
	}
	r.logf("BEGIN;")
	committed := false
	defer func() {
		if !committed {
			tx.Rollback(context.WithoutCancel(ctx))
			r.logf("ROLLBACK;")
		}
	}()
	if err := r.exec(ctx, tx, bc, b.Steps); err != nil {
		return err
	}
	if err := r.verify(ctx, tx, b.Database); err != nil {
		return err
	}
	if err := r.lock.Ping(ctx); err != nil {
		return fmt.Errorf("the advisory lock connection was lost: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		if setsPassword {
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) {
				r.rep.Password = PasswordUnknown
			} else {
				r.rep.Password = PasswordNotSet
			}
		}
		return fmt.Errorf("COMMIT: %w", err)
	}
	committed = true
	if setsPassword {
		r.rep.Password = PasswordSet
	}
	r.logf("COMMIT;")
	return nil
}

// retryable reports the errors a fresh attempt can get past: concurrent
// catalog updates, deadlocks, serialization failures and lock timeouts.
func retryable(err error) bool {
	msg := err.Error()
	for _, code := range []string{"40P01", "40001", "55P03"} {
		if strings.Contains(msg, "SQLSTATE "+code) {
			return true
		}
	}
	return strings.Contains(msg, "tuple concurrently updated")
}

func describe(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	return err.Error()
}

func durationSetting(d, def time.Duration) string {
	if d <= 0 {
		d = def
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

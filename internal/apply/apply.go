// Package apply applies reviewed plans to a cluster: under the cluster's
// advisory lock it re-inspects, re-plans, skips what is in sync, refuses
// drift, and otherwise runs the jobs' blocks in one transaction per
// database (one for the role-level statements), each job in a savepoint of
// its own, verified before COMMIT, and reports what committed and what
// happened to each password.
package apply

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
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

func newRunner(job Job) *runner {
	return &runner{job: job, rep: Report{Outcome: Failed}, start: time.Now()}
}

// runner is one job of a batch: its report, its output, and the catalog
// read its re-plan was made from.
type runner struct {
	job   Job
	rep   Report
	out   strings.Builder
	snap  *catalog.Snapshot
	start time.Time
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(&r.out, format+"\n", args...)
}

func (r *runner) fail(err error) {
	r.rep.Outcome = Failed
	r.rep.Message = errs.Public(nil, err)
	r.logf("-- error: %s", oneLine(r.rep.Message))
}

// decide skips, refuses or admits the job after its re-plan, fresh: it
// reports whether the job runs.
func (r *runner) decide(fresh plan.Result) bool {
	switch {
	case fresh.Status == plan.ItemFailed:
		r.fail(errs.New(errs.Failed, "re-plan failed: %s", fresh.Message))
		return false
	case fresh.Status == plan.ItemInSync:
		r.rep.Outcome, r.rep.Message = Skipped, "the cluster is already in the desired state: nothing to run"
		r.logf("-- re-plan is in sync: skipped")
		return false
	case fresh.Document.Checksum != r.job.Checksum:
		r.rep.Outcome = Drifted
		r.rep.Message = fmt.Sprintf("the cluster changed since the plan (checksum %s, now %s): make a new plan", short(r.job.Checksum), short(fresh.Document.Checksum))
		r.logf("-- drift: nothing executed; current_state diff (- plan, + now):")
		r.out.WriteString(StateDiff(r.job.State, fresh.Document.CurrentState))
		return false
	}
	if req := fresh.Document.Requires; len(req) > 0 {
		r.fail(errs.New(errs.Conflict, "the plan needs %s (a role it sets default privileges for, or a group it joins), declared in the same batch, which does not exist yet: apply its plan first", strings.Join(req, ", ")))
		return false
	}
	if fresh.NeedsPassword && r.job.Verifier == "" {
		r.fail(errs.New(errs.Internal, "the plan sets a password but the job carries none"))
		return false
	}
	return true
}

// verifyInput is the input a verification re-plan uses: the password is
// being set, so it is held and no longer to rotate.
func (r *runner) verifyInput() plan.Input {
	in := r.job.Input
	in.HasPassword = true
	in.Role.RotatePassword = false
	in.Kept = true // it is stile's now
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

package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// ApplyOutcome is the result of one apply.
type ApplyOutcome struct {
	SID       string   `json:"sid"`
	PlanSID   string   `json:"plan_sid"`
	Resource  string   `json:"resource_name"`
	RoleName  string   `json:"role_name"`
	Status    string   `json:"status"`
	Message   string   `json:"message"`
	Committed []string `json:"committed,omitempty"`
	Output    string   `json:"output"`
}

// Apply applies plan planSID of resource. It refuses (errs.Conflict) unless
// the plan succeeded and has not been applied; the agent then re-plans under
// the cluster's lock, skips when in sync and refuses on drift (errs.Drift).
// A password the plan sets is stored as pending before any SQL runs and
// promoted only once its COMMIT is known to have happened.
func (s *Service) Apply(ctx context.Context, actor, resource, planSID string) (ApplyOutcome, error) {
	planSess, doc, err := s.PlanStatus(ctx, planSID)
	if err != nil {
		return ApplyOutcome{}, err
	}
	if planSess.Resource != resource {
		return ApplyOutcome{}, errs.Invalidf("plan %s is for resource %q, not %q", planSID, planSess.Resource, resource)
	}
	if doc == nil || (planSess.Status != plan.ItemOutOfSync && planSess.Status != plan.ItemInSync) {
		return ApplyOutcome{}, errs.New(errs.Conflict, "plan %s did not succeed (%s): %s", planSID, planSess.Status, planSess.Message)
	}
	var pin planInput
	if err := json.Unmarshal([]byte(planSess.Input), &pin); err != nil {
		return ApplyOutcome{}, fmt.Errorf("plan %s: decode input: %w", planSID, err)
	}
	role := pin.Role
	if err := s.awaitRequired(ctx, planSID, doc.Requires); err != nil {
		return ApplyOutcome{}, err
	}
	res, err := s.store.Resource(ctx, resource)
	if err != nil {
		return ApplyOutcome{}, err
	}
	stored, err := s.store.Role(ctx, resource, role.Label)
	if err != nil {
		return ApplyOutcome{}, err
	}
	sess := store.Session{
		SID: newSID(), Kind: store.KindApply, Resource: resource, Role: planSess.Role, Label: role.Label,
		Actor: actor, Agent: res.Agent, CreatedAt: s.now(), Replica: s.replica, Status: "running", PlanSID: planSID,
		Input: fmt.Sprintf(`{"plan_sid":%q}`, planSID),
	}
	if err := s.store.ClaimPlan(ctx, planSID, sess); err != nil {
		return ApplyOutcome{}, err
	}
	out := ApplyOutcome{SID: sess.SID, PlanSID: planSID, Resource: resource, RoleName: planSess.Role}
	// Once claimed, an apply runs to its end whatever happens to the
	// client that asked: a half-run apply helps nobody. Only the job
	// timeout bounds it.
	ctx = context.WithoutCancel(ctx)
	jctx, cancel := context.WithTimeout(ctx, s.applyTimeout)
	rep, password, runErr := s.runApply(jctx, res, stored, pin, planSess, doc)
	cancel()
	action := store.DropPending
	switch rep.Password {
	case apply.PasswordSet:
		action = store.PromotePending
	case apply.PasswordUnknown:
		if password != "" {
			action = s.decidePassword(ctx, res, planSess.Role, password)
		}
	}
	if runErr != nil {
		rep = apply.Report{Outcome: apply.Failed, Message: runErr.Error(), Output: rep.Output + "-- error: " + runErr.Error() + "\n"}
	}
	sess.Status, sess.Message, sess.Output, sess.FinishedAt = string(rep.Outcome), rep.Message, rep.Output, s.now()
	if rep.Outcome != apply.Applied && rep.Outcome != apply.Skipped {
		sess.ExitCode = 1
	}
	applied := store.Role{Resource: resource, Label: role.Label, Spec: role}
	if err := s.store.FinishApply(context.WithoutCancel(ctx), sess, applied, action); err != nil {
		return out, err
	}
	s.audit.Emit(sess)
	if role.Retire && (rep.Outcome == apply.Applied || rep.Outcome == apply.Skipped) {
		// The role is gone: so is its resource role.
		if err := s.store.DeleteRole(context.WithoutCancel(ctx), resource, role.Label); err != nil {
			return out, err
		}
	}
	out.Status, out.Message, out.Committed, out.Output = sess.Status, rep.Message, rep.Committed, rep.Output
	switch rep.Outcome {
	case apply.Drifted:
		return out, errs.New(errs.Drift, "%s", rep.Message)
	case apply.Failed:
		return out, errs.New(errs.Failed, "%s", rep.Message)
	}
	return out, nil
}

func (s *Service) runApply(ctx context.Context, res store.Resource, stored store.Role, pin planInput, planSess store.Session, doc *plan.Document) (apply.Report, string, error) {
	role := pin.Role
	t, err := s.target(res)
	if err != nil {
		return apply.Report{}, "", err
	}
	ag, err := s.agent(res.Agent)
	if err != nil {
		return apply.Report{}, "", err
	}
	in, err := plan.NewInput(role, planSess.Role)
	if err != nil {
		return apply.Report{}, "", err
	}
	in.Host, in.Port, in.AdminUser = res.Host, res.Port, res.AdminUser
	in.HasPassword, in.Creators = stored.PasswordCurrent != "", pin.Creators
	job := apply.Job{Target: t, Checksum: doc.Checksum, State: doc.CurrentState, Input: in}
	password := ""
	if strings.Contains(doc.SQLPlan, plan.PasswordPlaceholder) {
		password = secret.NewPassword()
		if err := s.store.SetPendingPassword(ctx, res.Name, role.Label, s.box.Seal(password, passwordAD(res.Name, role.Label))); err != nil {
			return apply.Report{}, "", fmt.Errorf("store pending password: %w", err)
		}
		job.Verifier = secret.ScramVerifier(password)
	}
	return ag.Apply(ctx, job), password, nil
}

// awaitRequired waits for the roles a plan requires (declared creators of
// its batch that did not exist at plan time): for their apply to start, a
// moment, as when a browser applies a batch's rows at once, and then for as
// long as it runs. It refuses, leaving the plan unapplied, when one of them
// is not applied.
func (s *Service) awaitRequired(ctx context.Context, planSID string, required []string) error {
	const grace = 3 * time.Second
	start := time.Now()
	for _, name := range required {
		for {
			r, err := s.store.RoleByName(ctx, name)
			if err != nil && !errs.Is(err, errs.NotFound) {
				return err
			}
			if err == nil && r.LastApplySID != "" && (r.Status == string(apply.Applied) || r.Status == string(apply.Skipped)) {
				break
			}
			running, err := s.store.Sessions(ctx, store.SessionFilter{Kind: store.KindApply, Status: "running"})
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(running, func(x store.Session) bool { return x.Role == name }) && time.Since(start) > grace {
				return errs.New(errs.Conflict, "plan %s sets default privileges for %s, declared in the same batch with CREATE: apply that role's plan first (this plan stays unapplied)", planSID, name)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// decidePassword settles a password change whose COMMIT outcome is unknown
// by logging in with it.
func (s *Service) decidePassword(ctx context.Context, res store.Resource, role, password string) store.PasswordAction {
	t, err := s.target(res)
	if err != nil {
		return store.KeepPending
	}
	ag, err := s.agent(res.Agent)
	if err != nil {
		return store.KeepPending
	}
	ok, err := ag.CheckLogin(ctx, t, role, password)
	switch {
	case err != nil:
		s.log.Warn("password outcome unknown; pending password kept", "resource", res.Name, "role", role, "err", err)
		return store.KeepPending
	case ok:
		return store.PromotePending
	}
	return store.DropPending
}

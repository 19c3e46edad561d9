package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/spec"
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
	var role spec.Role
	if err := json.Unmarshal([]byte(planSess.Input), &role); err != nil {
		return ApplyOutcome{}, fmt.Errorf("plan %s: decode input: %w", planSID, err)
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
	rep, password, runErr := s.runApply(jctx, res, stored, role, planSess, doc)
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
	if err := s.store.FinishApply(context.WithoutCancel(ctx), sess, resource, role.Label, action); err != nil {
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

func (s *Service) runApply(ctx context.Context, res store.Resource, stored store.Role, role spec.Role, planSess store.Session, doc *plan.Document) (apply.Report, string, error) {
	t, err := s.target(res)
	if err != nil {
		return apply.Report{}, "", err
	}
	ag, err := s.agent(res.Agent)
	if err != nil {
		return apply.Report{}, "", err
	}
	job := apply.Job{
		Target:   t,
		Checksum: doc.Checksum,
		State:    doc.CurrentState,
		Input: plan.Input{
			Role: role, RoleName: planSess.Role, Host: res.Host, Port: res.Port, AdminUser: res.AdminUser,
			HasPassword: stored.PasswordCurrent != "",
		},
	}
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

package service

import (
	"context"
	"time"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// RotationActor is who scheduled rotations act as in sessions.
const RotationActor = "rotation"

// AlertRotation is the alert of a scheduled rotation that failed or was
// skipped.
const AlertRotation = "rotation"

// RotationStatus and RotateOutcome are the wire types of a role's
// password and of a rotation.
type (
	RotationStatus = api.RotationStatus
	RotateOutcome  = api.RotateOutcome
)

// Rotation is passwords that change on their own: a role's password
// rotated now or on a schedule, through the same plan and apply as any
// change (the new password settled as every apply settles one), and what
// stands in the way (a reveal since it was set).
//
// Errors: errs.Forbidden or errs.Unauthorized first; errs.NotFound for a
// role stile did not declare; errs.Invalid for a role never applied or a
// schedule it refuses; errs.Conflict for a revealed password without force,
// or an apply under way; errs.Drift when the role differs from its
// declaration in more than its password (review a plan first);
// errs.Unavailable when the agent is offline.
type Rotation struct {
	*core
	provisioning *Provisioning
}

// Status says when role's password was set, who revealed it since, and
// when it rotates next.
func (s *Rotation) Status(ctx context.Context, p Principal, role string) (RotationStatus, error) {
	if err := p.MayAdminister(); err != nil {
		return RotationStatus{}, err
	}
	r, err := s.declared(ctx, role)
	if err != nil {
		return RotationStatus{}, err
	}
	return s.status(ctx, r)
}

// declared returns the role stile declared and applied under name: one
// with a password stile set, or an adopted role (whose first rotation
// gives stile one).
func (s *core) declared(ctx context.Context, name string) (store.Role, error) {
	r, err := s.store.RoleByName(ctx, name)
	switch {
	case errs.Is(err, errs.NotFound):
		return r, errs.New(errs.NotFound, "role %q is not one stile declared", name)
	case err != nil:
		return r, err
	case r.Spec.Type == spec.Group:
		return r, errs.Invalidf("role %s is a group: it cannot log in and has no password", name)
	case !r.Declared || (r.PasswordCurrent == "" && !r.Spec.Adopt):
		return r, errs.Invalidf("role %s was never applied: it has no password to rotate", name)
	}
	return r, nil
}

func (s *Rotation) status(ctx context.Context, r store.Role) (RotationStatus, error) {
	st := RotationStatus{Role: r.RoleName, SetAt: r.PasswordSetAt}
	reveals, err := s.store.Sessions(ctx, store.SessionFilter{Resource: r.Resource, Kind: KindReveal, Since: r.PasswordSetAt, Limit: 1000})
	if err != nil {
		return st, err
	}
	for _, x := range reveals {
		if x.Role == r.RoleName && x.Status == "ok" {
			st.RevealedBy, st.RevealedAt = x.Actor, x.CreatedAt
			break // newest first
		}
	}
	all, err := s.store.Rotations(ctx)
	if err != nil {
		return st, err
	}
	for _, rot := range all {
		if rot.Role == r.RoleName {
			st.Schedule = &rot
			st.Next = nextRotation(r, rot)
		}
	}
	return st, nil
}

// nextRotation is when schedule rot rotates r: a period after the password
// was set, or after the schedule was, whichever is later.
func nextRotation(r store.Role, rot store.Rotation) time.Time {
	base := r.PasswordSetAt
	if rot.SetAt.After(base) {
		base = rot.SetAt
	}
	return base.Add(time.Duration(rot.EverySeconds) * time.Second)
}

// SetSchedule rotates role's password every interval from now on (zero:
// never).
func (s *Rotation) SetSchedule(ctx context.Context, p Principal, role string, every time.Duration) (RotationStatus, error) {
	if err := p.MayAdminister(); err != nil {
		return RotationStatus{}, err
	}
	r, err := s.declared(ctx, role)
	if err != nil {
		return RotationStatus{}, err
	}
	if every != 0 && every < time.Second {
		return RotationStatus{}, errs.Invalidf("a rotation interval of %s is too short", every)
	}
	rot := store.Rotation{Role: role, EverySeconds: int64(every / time.Second), SetBy: p.User, SetAt: s.now()}
	if err := s.store.PutRotation(ctx, rot); err != nil {
		return RotationStatus{}, err
	}
	what := "%s rotates the password of %s every %s"
	if every == 0 {
		what = "%s stopped rotating the password of %s on a schedule%.0s"
	}
	if err := s.recordAccess(ctx, p.User, role, map[string]any{"role": role, "rotate_every_seconds": rot.EverySeconds}, what, p.User, role, every); err != nil {
		return RotationStatus{}, err
	}
	return s.status(ctx, r)
}

// Rotate sets a new password on role now: a plan of its declaration with a
// new password, applied at once (two sessions, as any change). The role
// must be in sync but for its password; a password revealed since it was
// set is rotated only with force (a system outside stile may use it).
func (s *Rotation) Rotate(ctx context.Context, p Principal, role string, force bool) (RotateOutcome, error) {
	return s.rotate(ctx, p, role, force, "manual")
}

// rotate is Rotate counted under trigger (manual, scheduled): rotated,
// skipped (revealed, not forced) or failed.
func (s *Rotation) rotate(ctx context.Context, p Principal, role string, force bool, trigger string) (RotateOutcome, error) {
	out := RotateOutcome{Role: role}
	if err := p.MayAdminister(); err != nil {
		return out, err
	}
	r, err := s.declared(ctx, role)
	if err != nil {
		return out, err // no such role to rotate: not counted
	}
	if !force {
		var st RotationStatus
		if st, err = s.status(ctx, r); err == nil && st.RevealedBy != "" {
			s.metrics.Rotation(trigger, "skipped")
			return out, errs.New(errs.Conflict, "the password of %s was revealed to %s at %s: a system outside stile may use it; rotate with --force once it is ready for a new one",
				role, st.RevealedBy, st.RevealedAt.Format(time.RFC3339))
		}
	}
	if err == nil {
		out, err = s.planApply(ctx, p, r)
	}
	outcome := "rotated"
	if err != nil {
		outcome = "failed"
	}
	s.metrics.Rotation(trigger, outcome)
	return out, err
}

// planApply plans r's declaration with a new password and applies it.
func (s *Rotation) planApply(ctx context.Context, p Principal, r store.Role) (RotateOutcome, error) {
	out := RotateOutcome{Role: r.RoleName}
	role := r.RoleName
	item := r.Spec
	item.RotatePassword, item.Retire, item.Heir = true, false, ""
	planned, err := s.provisioning.Plan(ctx, p, []spec.Role{item})
	if err != nil {
		return out, err
	}
	o := planned[0]
	out.PlanSID = o.SID
	if o.Status == plan.ItemFailed || o.Document == nil {
		return out, errs.New(errs.Unavailable, "the rotation's plan of %s failed: %s", role, o.Message)
	}
	// Only the new password: anything else is drift to review first.
	for _, b := range o.Document.Blocks {
		for _, st := range b.Steps {
			if st.Reason != plan.ReasonNewPassword {
				return out, errs.New(errs.Drift, "%s differs from its declaration in more than its password (%s): review it with stile plan, then rotate", role, st.SQL)
			}
		}
	}
	applied, err := s.provisioning.Apply(ctx, p, r.Resource, o.SID)
	out.ApplySID, out.Status = applied.SID, applied.Status
	return out, err
}

// RotateEvery rotates, every tick until ctx ends, the passwords whose
// schedule is due. With replicas on one store one replica rotates a role
// in an interval: it holds the lease rotate:ROLE for most of it, as the
// drift check holds a resource's. A rotation that fails or is skipped (a
// revealed password) is an alert, and counted, and is tried again hourly
// (or each period, if shorter).
func (s *Rotation) RotateEvery(ctx context.Context, tick time.Duration) {
	every(ctx, tick, func() {
		schedules, err := s.store.Rotations(ctx)
		if err != nil {
			s.log.Warn("rotation: list schedules", "err", err)
			return
		}
		for _, rot := range schedules {
			r, err := s.store.RoleByName(ctx, rot.Role)
			if err != nil || !r.Declared {
				continue // retired, or not applied again yet
			}
			now := s.now()
			if now.Before(nextRotation(r, rot)) {
				continue
			}
			period := time.Duration(rot.EverySeconds) * time.Second
			// One that failed or was skipped is tried again (and alerts
			// again) hourly, or each period if shorter: not each tick.
			if rot.LastError != "" && now.Before(rot.LastAttempt.Add(min(period, time.Hour))) {
				continue
			}
			held, err := s.store.TryLease(ctx, "rotate:"+rot.Role, s.replica, now.Add(period*9/10))
			if err != nil || !held {
				continue
			}
			_, err = s.rotate(ctx, system(RotationActor), rot.Role, false, "scheduled")
			text := ""
			if err != nil {
				text = errs.Public(s.log, err, "role", rot.Role)
				s.raise(ctx, "warning", map[string]any{"alert": AlertRotation, "role": rot.Role}, "the scheduled rotation of %s's password did not happen: %s", rot.Role, text)
			}
			if err := s.store.RotationAttempt(ctx, rot.Role, now, text); err != nil {
				s.log.Warn("rotation: record the attempt", "role", rot.Role, "err", err)
			}
		}
	})
}

package service

import (
	"context"
	"encoding/json"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// KindApproval is the session kind of an approval decision.
const KindApproval = "approval"

// ApprovalWait is how long a member's connection waits for an admin.
const ApprovalWait = 5 * time.Minute

// SetApprovalRequired makes members' connections to a resource role wait
// for an admin's approval (or stop waiting).
func (s *Access) SetApprovalRequired(ctx context.Context, p Principal, role string, on bool) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if _, err := s.resourceRole(ctx, role); err != nil && on {
		return err
	}
	if err := s.store.SetApprovalRequired(ctx, role, on); err != nil {
		return err
	}
	if on {
		return s.recordAccess(ctx, p.User, role, map[string]any{"role": role, "approval_required": true}, "%s made members' connections to %s wait for approval", p.User, role)
	}
	return s.recordAccess(ctx, p.User, role, map[string]any{"role": role, "approval_required": false}, "%s let members connect to %s without approval", p.User, role)
}

// ApprovalRequired reports whether members' connections to role wait for
// an admin.
func (s *Access) ApprovalRequired(ctx context.Context, p Principal, role string) (bool, error) {
	if ok, err := s.CanSee(ctx, p, role); err != nil {
		return false, err
	} else if !ok {
		return false, errs.New(errs.NotFound, "resource role %q does not exist", role)
	}
	return s.store.ApprovalRequired(ctx, role)
}

// Approvals lists approval requests (status empty: all).
func (s *Access) Approvals(ctx context.Context, p Principal, status string) ([]store.Approval, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	return s.store.Approvals(ctx, status)
}

// Decide approves or denies a pending request, as admin p, and records
// the decision as a session.
func (s *Access) Decide(ctx context.Context, p Principal, id string, approve bool) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	a, err := s.store.Approval(ctx, id)
	if err != nil {
		return err
	}
	to := "denied"
	if approve {
		to = "approved"
	}
	if err := s.store.DecideApproval(ctx, id, "pending", to, p.User); err != nil {
		return err
	}
	in, _ := json.Marshal(map[string]string{"approval": id, "user": a.User, "database": a.Database})
	rr, _ := s.resourceRole(ctx, a.Role)
	now := s.now()
	sess := store.Session{SID: newSID(), Kind: KindApproval, Resource: rr.Resource, Role: a.Role, Actor: p.User, CreatedAt: now, FinishedAt: now,
		Replica: s.replica, Status: to, Input: string(in), Output: a.User + "'s connection to " + a.Role + " " + to + " by " + p.User + "\n"}
	if err := s.store.CreateSessions(ctx, sess); err != nil {
		return err
	}
	s.emit(sess)
	return nil
}

// awaitApproval files a request for p to use role and waits for an admin's
// decision: approved (the approval is then used up), denied, or too late.
func (s *Access) awaitApproval(ctx context.Context, p Principal, role, database string) error {
	a := store.Approval{ID: newSID(), Role: role, User: p.User, Database: database, Status: "pending", CreatedAt: s.now()}
	if err := s.store.CreateApproval(ctx, a); err != nil {
		return err
	}
	s.log.Info("connection waits for approval", "approval", a.ID, "role", role, "user", p.User)
	wctx, cancel := context.WithTimeout(ctx, ApprovalWait)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-wctx.Done():
			s.store.DecideApproval(context.WithoutCancel(ctx), a.ID, "pending", "expired", "")
			return errs.New(errs.Forbidden, "no administrator approved %s's use of %s in time (request %s)", p.User, role, a.ID)
		case <-tick.C:
		}
		got, err := s.store.Approval(ctx, a.ID)
		if err != nil {
			return err
		}
		switch got.Status {
		case "approved":
			return s.store.DecideApproval(ctx, a.ID, "approved", "used", "")
		case "denied":
			return errs.New(errs.Forbidden, "%s denied %s's use of %s", got.DecidedBy, p.User, role)
		}
	}
}

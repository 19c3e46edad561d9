package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// The request policy a role has until an administrator sets one.
const (
	DefaultRequestMax     = 8 * time.Hour
	DefaultRequestPending = time.Hour
)

// DefaultPolicy is the policy of a role nobody set one for: one approval
// by an administrator, windows of up to DefaultRequestMax, pending for
// DefaultRequestPending.
func DefaultPolicy(role string) store.AccessPolicy {
	return store.AccessPolicy{Role: role, MaxSeconds: int64(DefaultRequestMax / time.Second), Approvers: []string{}, Approvals: 1,
		PendingSeconds: int64(DefaultRequestPending / time.Second), Default: true}
}

// SetPolicy sets what a request for role needs: its maximum window, a
// reason, how many approvals from which groups (administrators when
// none), and how long it may wait.
func (s *Requests) SetPolicy(ctx context.Context, p Principal, pol store.AccessPolicy) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if _, err := s.resourceRole(ctx, pol.Role); err != nil {
		return err
	}
	switch {
	case pol.MaxSeconds < 1:
		return errs.Invalidf("the maximum window must be at least a second")
	case pol.PendingSeconds < 1:
		return errs.Invalidf("the pending time must be at least a second")
	case pol.Approvals < 1 || pol.Approvals > 10:
		return errs.Invalidf("approvals must be 1 to 10, not %d", pol.Approvals)
	}
	groups, err := s.store.Groups(ctx)
	if err != nil {
		return err
	}
	pol.Approvers = slices.Compact(slices.Sorted(slices.Values(pol.Approvers)))
	for _, g := range pol.Approvers {
		if _, ok := groups[g]; !ok {
			return errs.New(errs.NotFound, "approver group %q does not exist", g)
		}
	}
	pol.Default = false
	if err := s.store.SetPolicy(ctx, pol); err != nil {
		return err
	}
	who := "administrators"
	if len(pol.Approvers) > 0 {
		who = "members of " + strings.Join(pol.Approvers, ", ")
	}
	reason := ""
	if pol.ReasonRequired {
		reason = ", a reason required"
	}
	return s.recordAccess(ctx, p.User, pol.Role, map[string]any{"role": pol.Role, "policy": pol},
		"%s set the request policy of %s: windows up to %s, %d approval(s) by %s%s, pending for %s", p.User, pol.Role,
		seconds(pol.MaxSeconds), pol.Approvals, who, reason, seconds(pol.PendingSeconds))
}

// seconds prints n seconds as a duration without its zero tail: 2h, 1h30m,
// 90s is 1m30s, 10s.
func seconds(n int64) string {
	d := (time.Duration(n) * time.Second).String()
	if strings.HasSuffix(d, "m0s") {
		d = strings.TrimSuffix(d, "0s")
	}
	if strings.HasSuffix(d, "h0m") {
		d = strings.TrimSuffix(d, "0m")
	}
	return d
}

// Policy returns role's request policy, to administrators and to those who
// may see the role.
func (s *Requests) Policy(ctx context.Context, p Principal, role string) (store.AccessPolicy, error) {
	if ok, err := s.access.CanSee(ctx, p, role); err != nil {
		return store.AccessPolicy{}, err
	} else if !ok {
		return store.AccessPolicy{}, errs.New(errs.NotFound, "resource role %q does not exist", role)
	}
	return s.policy(ctx, role)
}

func (s *core) policy(ctx context.Context, role string) (store.AccessPolicy, error) {
	pol, err := s.store.Policy(ctx, role)
	if errs.Is(err, errs.NotFound) {
		return DefaultPolicy(role), nil
	}
	return pol, err
}

// mayReview reports whether p may decide requests under pol: a member of
// one of its approver groups, or an administrator when it names none.
func (v *accessView) mayReview(p Principal, pol store.AccessPolicy) bool {
	if len(pol.Approvers) == 0 {
		return p.Admin
	}
	return slices.ContainsFunc(pol.Approvers, func(g string) bool { return v.member(p.User, g) })
}

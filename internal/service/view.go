package service

import (
	"context"
	"slices"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// accessView is who may use what at one moment: the grants in force, the
// groups and the approved windows open, read once for any number of
// questions (a connection, a page of roles, the enforcement of every open
// connection).
type accessView struct {
	now time.Time
	// grants are those in force (not past their Until), by role.
	grants []store.Grant
	byRole map[string][]store.Grant
	groups map[string][]string
	// windows are the approved requests' ends, by user and role.
	windows map[[2]string]time.Time
}

// view reads the access in force now.
func (s *core) view(ctx context.Context) (*accessView, error) {
	grants, err := s.store.Grants(ctx)
	if err != nil {
		return nil, err
	}
	groups, err := s.store.Groups(ctx)
	if err != nil {
		return nil, err
	}
	open, err := s.store.Requests(ctx, store.RequestFilter{Status: []string{store.RequestApproved}})
	if err != nil {
		return nil, err
	}
	v := &accessView{now: s.now(), byRole: map[string][]store.Grant{}, groups: groups, windows: map[[2]string]time.Time{}, grants: []store.Grant{}}
	for _, g := range grants {
		if !g.Until.IsZero() && !g.Until.After(v.now) {
			continue // ended, even before the sweep removes it
		}
		v.grants = append(v.grants, g)
		v.byRole[g.Role] = append(v.byRole[g.Role], g)
	}
	for _, r := range open {
		k := [2]string{r.User, r.Role}
		if r.EndsAt.After(v.now) && r.EndsAt.After(v.windows[k]) {
			v.windows[k] = r.EndsAt
		}
	}
	return v, nil
}

// member reports whether user is in group.
func (v *accessView) member(user, group string) bool {
	return slices.Contains(v.groups[group], user)
}

// standing returns the standing grant of role user holds that lasts
// longest (ok false when none).
func (v *accessView) standing(user, role string) (g store.Grant, ok bool) {
	return v.longest(user, role, false)
}

func (v *accessView) longest(user, role string, eligible bool) (best store.Grant, ok bool) {
	for _, g := range v.byRole[role] {
		if g.Eligible != eligible || !v.member(user, g.Group) {
			continue
		}
		if !ok || g.Until.IsZero() || (!best.Until.IsZero() && g.Until.After(best.Until)) {
			best, ok = g, true
		}
	}
	return best, ok
}

// eligible reports whether user may request role.
func (v *accessView) eligible(user, role string) bool {
	_, ok := v.longest(user, role, true)
	return ok
}

// window returns when user's approved window on role ends (zero: none
// open). A window counts only while its user is still eligible: taking the
// eligibility away ends it.
func (v *accessView) window(user, role string) time.Time {
	if !v.eligible(user, role) {
		return time.Time{}
	}
	return v.windows[[2]string{user, role}]
}

// mayConnect reports whether user may connect to role now.
func (v *accessView) mayConnect(user, role string) bool {
	if _, ok := v.standing(user, role); ok {
		return true
	}
	return !v.window(user, role).IsZero()
}

// groupsByRole lists the groups granted each role, eligible ones too.
func (v *accessView) groupsByRole() map[string][]string {
	out := map[string][]string{}
	for _, g := range v.grants {
		out[g.Role] = append(out[g.Role], g.Group)
	}
	return out
}

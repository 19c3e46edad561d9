package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// MyAccess and MyRole are the wire types of what a member may use.
type (
	MyAccess = api.MyAccess
	MyRole   = api.MyRole
)

// KindRequest is the session kind of a request's life: made, reviewed,
// approved, denied, expired, cancelled.
const KindRequest = "request"

// Create files p's request for a window of d on role, which p must be
// eligible for, within the role's policy. Approvers are notified.
func (s *Requests) Create(ctx context.Context, p Principal, role string, d time.Duration, reason string) (store.AccessRequest, error) {
	if err := p.Authenticated(); err != nil {
		return store.AccessRequest{}, err
	}
	v, err := s.view(ctx)
	if err != nil {
		return store.AccessRequest{}, err
	}
	if p.Admin {
		return store.AccessRequest{}, errs.Invalidf("administrators may use %s without a request", role)
	}
	if !v.eligible(p.User, role) {
		if v.mayConnect(p.User, role) {
			return store.AccessRequest{}, errs.Invalidf("%s may use %s already (a standing grant): no request needed", p.User, role)
		}
		return store.AccessRequest{}, errs.New(errs.NotFound, "resource role %q does not exist or %s is not eligible to request it", role, p.User)
	}
	pol, err := s.policy(ctx, role)
	if err != nil {
		return store.AccessRequest{}, err
	}
	reason = strings.TrimSpace(reason)
	switch {
	case d < time.Second:
		return store.AccessRequest{}, errs.Invalidf("a window of %s is too short: ask for at least a second (--for 1h)", d)
	case d > time.Duration(pol.MaxSeconds)*time.Second:
		return store.AccessRequest{}, errs.Invalidf("%s's policy allows windows of up to %s, not %s", role, seconds(pol.MaxSeconds), d)
	case pol.ReasonRequired && reason == "":
		return store.AccessRequest{}, errs.Invalidf("%s's policy requires a reason (--reason, e.g. the ticket)", role)
	}
	if err := plainText("reason", reason); err != nil {
		return store.AccessRequest{}, err
	}
	pending, err := s.store.Requests(ctx, store.RequestFilter{User: p.User, Role: role, Status: []string{store.RequestPending}})
	if err != nil {
		return store.AccessRequest{}, err
	}
	now := s.now()
	for _, q := range pending {
		if q.ExpiresAt.After(now) { // one past its time is about to expire
			return store.AccessRequest{}, errs.New(errs.Conflict, "request %s for %s is pending already", q.ID, role)
		}
	}
	r := store.AccessRequest{ID: newSID(), Role: role, User: p.User, Reason: reason, Seconds: int64(d / time.Second), Status: store.RequestPending,
		Approvals: pol.Approvals, Reviews: []store.Review{}, CreatedAt: now, ExpiresAt: now.Add(time.Duration(pol.PendingSeconds) * time.Second)}
	rr, _ := s.resourceRole(ctx, role)
	sess := s.requestSession(rr, r, p.User, "%s requested %s for %s%s", p.User, role, seconds(r.Seconds), because(reason))
	if err := s.store.CreateRequest(ctx, r, sess); err != nil {
		return store.AccessRequest{}, err
	}
	s.emit(sess)
	s.notify.request(r, sess.Message)
	return r, nil
}

// plainText refuses what people's words may not hold: they are printed on
// others' terminals (stile requests list), so no control character (an
// escape sequence), and at most 500 bytes.
func plainText(what, text string) error {
	switch {
	case len(text) > 500:
		return errs.Invalidf("the %s is %d bytes; at most 500", what, len(text))
	case strings.ContainsFunc(text, unicode.IsControl):
		return errs.Invalidf("the %s holds a control character; write it on one line of text", what)
	}
	return nil
}

func because(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

// requestSession is the finished session of an event in r's life, by
// actor, its status r's, on resource role rr (read before: it is made
// inside the store's transaction).
func (s *core) requestSession(rr ResourceRole, r store.AccessRequest, actor, format string, args ...any) store.Session {
	in, _ := json.Marshal(r)
	now, what := s.now(), fmt.Sprintf(format, args...)
	sess := store.Session{SID: newSID(), Kind: KindRequest, Role: r.Role, Actor: actor, CreatedAt: now, FinishedAt: now,
		Replica: s.replica, Status: r.Status, Message: what, Input: string(in), Output: what + "\n", Resource: rr.Resource, Label: rr.Label}
	return sess
}

// Review records p's decision on pending request id: a denial denies it,
// and the approval that makes the count its policy asks opens the window
// at once. Approvers may not review their own request, nor one twice.
func (s *Requests) Review(ctx context.Context, p Principal, id string, approve bool, reason string) (store.AccessRequest, error) {
	if err := p.Authenticated(); err != nil {
		return store.AccessRequest{}, err
	}
	r0, err := s.store.Request(ctx, id)
	if err != nil {
		return r0, err
	}
	pol, err := s.policy(ctx, r0.Role)
	if err != nil {
		return r0, err
	}
	v, err := s.view(ctx)
	if err != nil {
		return r0, err
	}
	if !v.mayReview(p, pol) {
		if r0.User == p.User {
			return r0, errs.New(errs.Forbidden, "%s may not review their own request", p.User)
		}
		return r0, errs.New(errs.Forbidden, "%s is not an approver of %s", p.User, r0.Role)
	}
	reason = strings.TrimSpace(reason)
	if err := plainText("reason", reason); err != nil {
		return r0, err
	}
	rr, _ := s.resourceRole(ctx, r0.Role)
	var ended bool
	r, err := s.updateRequest(ctx, id, func(r *store.AccessRequest) (store.Session, error) {
		now := s.now()
		switch {
		case r.User == p.User:
			return store.Session{}, errs.New(errs.Forbidden, "%s may not review their own request", p.User)
		case r.Status != store.RequestPending:
			return store.Session{}, errs.New(errs.Conflict, "request %s is %s, not pending", id, r.Status)
		case !r.ExpiresAt.After(now):
			return store.Session{}, errs.New(errs.Conflict, "request %s expired at %s", id, r.ExpiresAt.Format(time.RFC3339))
		case slices.ContainsFunc(r.Reviews, func(rv store.Review) bool { return rv.User == p.User }):
			return store.Session{}, errs.New(errs.Conflict, "%s has reviewed request %s already", p.User, id)
		}
		r.Reviews = append(r.Reviews, store.Review{User: p.User, Approve: approve, Reason: reason, At: now})
		verb := "approved"
		switch {
		case !approve:
			r.Status, r.EndedBy, verb, ended = store.RequestDenied, p.User, "denied", true
		case r.Approved() >= r.Approvals:
			r.Status, r.StartsAt, r.EndsAt, ended = store.RequestApproved, now, now.Add(time.Duration(r.Seconds)*time.Second), true
		}
		msg := fmt.Sprintf("%s %s %s's request for %s (%d of %d approvals)%s", p.User, verb, r.User, r.Role, r.Approved(), r.Approvals, because(reason))
		if r.Status == store.RequestApproved {
			msg += "; the window ends at " + r.EndsAt.Format(time.RFC3339)
		}
		return s.requestSession(rr, *r, p.User, "%s", msg), nil
	})
	if err != nil {
		return r, err
	}
	if ended {
		s.notify.decided(r)
	}
	return r, nil
}

// updateRequest changes request id as change says and records, then
// exports, the session change returns for it.
func (s *core) updateRequest(ctx context.Context, id string, change func(*store.AccessRequest) (store.Session, error)) (store.AccessRequest, error) {
	var sess store.Session
	r, err := s.store.UpdateRequest(ctx, id, func(r *store.AccessRequest) ([]store.Session, error) {
		var err error
		if sess, err = change(r); err != nil {
			return nil, err
		}
		return []store.Session{sess}, nil
	})
	if err == nil {
		s.emit(sess)
	}
	return r, err
}

// Cancel withdraws p's own pending request or ends p's own window early;
// an administrator may end anyone's (a revocation). Connections opened in
// the window close.
func (s *Requests) Cancel(ctx context.Context, p Principal, id string) (store.AccessRequest, error) {
	if err := p.Authenticated(); err != nil {
		return store.AccessRequest{}, err
	}
	r0, err := s.Get(ctx, p, id)
	if err != nil {
		return r0, err
	}
	rr, _ := s.resourceRole(ctx, r0.Role)
	r, err := s.updateRequest(ctx, id, func(r *store.AccessRequest) (store.Session, error) {
		if r.User != p.User && !p.Admin {
			return store.Session{}, errs.New(errs.NotFound, "request %s does not exist", id)
		}
		switch r.Status {
		case store.RequestPending:
			r.Status, r.EndedBy = store.RequestCancelled, p.User
			return s.requestSession(rr, *r, p.User, "%s withdrew %s's request for %s", p.User, r.User, r.Role), nil
		case store.RequestApproved:
			r.Status, r.EndedBy, r.EndsAt = store.RequestEnded, p.User, s.now()
			return s.windowEnd(rr, *r, p.User, fmt.Sprintf("%s ended %s's window on %s", p.User, r.User, r.Role)), nil
		}
		return store.Session{}, errs.New(errs.Conflict, "request %s is %s already", id, r.Status)
	})
	if err != nil {
		return r, err
	}
	s.connections.enforceNow(ctx)
	return r, nil
}

// windowEnd is the access session of the end of r's window.
func (s *core) windowEnd(rr ResourceRole, r store.AccessRequest, actor, what string) store.Session {
	sess := s.requestSession(rr, r, actor, "%s", what)
	sess.Kind, sess.Status = KindAccess, "ok"
	return sess
}

// Get returns one request, to its requester, its approvers and
// administrators.
func (s *Requests) Get(ctx context.Context, p Principal, id string) (store.AccessRequest, error) {
	if err := p.Authenticated(); err != nil {
		return store.AccessRequest{}, err
	}
	r, err := s.store.Request(ctx, id)
	if err != nil || r.User == p.User || p.Admin {
		return r, err
	}
	pol, err := s.policy(ctx, r.Role)
	if err != nil {
		return r, err
	}
	v, err := s.view(ctx)
	if err != nil {
		return r, err
	}
	if !v.mayReview(p, pol) {
		return store.AccessRequest{}, errs.New(errs.NotFound, "request %s does not exist", id)
	}
	return r, nil
}

// List lists requests: an administrator's filter as given; a member sees
// their own and those they may review.
func (s *Requests) List(ctx context.Context, p Principal, f store.RequestFilter) ([]store.AccessRequest, error) {
	if err := p.Authenticated(); err != nil {
		return nil, err
	}
	for _, st := range f.Status {
		if !slices.Contains([]string{store.RequestPending, store.RequestApproved, store.RequestDenied, store.RequestExpired, store.RequestCancelled, store.RequestEnded}, st) {
			return nil, errs.Invalidf("status %q is not pending, approved, denied, expired, cancelled or ended", st)
		}
	}
	list, err := s.store.Requests(ctx, f)
	if err != nil || p.Admin {
		return list, err
	}
	v, err := s.view(ctx)
	if err != nil {
		return nil, err
	}
	pols := map[string]store.AccessPolicy{}
	out := []store.AccessRequest{}
	for _, r := range list {
		if r.User != p.User {
			pol, ok := pols[r.Role]
			if !ok {
				if pol, err = s.policy(ctx, r.Role); err != nil {
					return nil, err
				}
				pols[r.Role] = pol
			}
			if !v.mayReview(p, pol) {
				continue
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// Inbox lists the pending requests p may review (not their own), oldest
// first.
func (s *Requests) Inbox(ctx context.Context, p Principal) ([]store.AccessRequest, error) {
	list, err := s.List(ctx, p, store.RequestFilter{Status: []string{store.RequestPending}})
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []store.AccessRequest{}
	for _, r := range slices.Backward(list) {
		if r.User != p.User && r.ExpiresAt.After(now) && !slices.ContainsFunc(r.Reviews, func(rv store.Review) bool { return rv.User == p.User }) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Mine says what p may use or request, until when, and p's requests.
func (s *Requests) Mine(ctx context.Context, p Principal) (MyAccess, error) {
	if err := p.Authenticated(); err != nil {
		return MyAccess{}, err
	}
	out := MyAccess{Roles: []MyRole{}, Requests: []store.AccessRequest{}}
	v, err := s.view(ctx)
	if err != nil {
		return out, err
	}
	all, err := s.resourceRoles(ctx)
	if err != nil {
		return out, err
	}
	roles := v.seen(p, all)
	for _, rr := range roles {
		m := MyRole{Role: rr.Name, Eligible: v.eligible(p.User, rr.Name), WindowEnds: v.window(p.User, rr.Name)}
		g, ok := v.standing(p.User, rr.Name)
		m.Standing, m.Until = ok || p.Admin, g.Until
		out.Roles = append(out.Roles, m)
	}
	out.Requests, err = s.store.Requests(ctx, store.RequestFilter{User: p.User, Limit: 50})
	return out, err
}

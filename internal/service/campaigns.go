package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// KindReview is the session kind of a recertification campaign's life:
// started, each decision, closed.
const KindReview = "review"

// Campaigns is recertification: a campaign puts every standing grant
// (group → role) in force at its start, with its members and their last
// use, before its reviewers (the role's approvers, or the administrators),
// who confirm or revoke each; at the due date what is left is revoked or
// flagged.
//
// Errors: errs.Forbidden or errs.Unauthorized first (starting one is the
// administrators'; a member sees and decides only the items they review);
// errs.Invalid for a due date or grant it refuses; errs.NotFound for an
// unknown campaign or item; errs.Conflict for an item decided already or a
// closed campaign.
type Campaigns struct {
	*core
	connections *Connections
}

// Start opens a campaign over every standing grant in force, due in due;
// onDue says what becomes of undecided grants then: api.OnDueRevoke or
// api.OnDueFlag.
func (s *Campaigns) Start(ctx context.Context, p Principal, due time.Duration, onDue string) (store.Campaign, error) {
	if err := p.MayAdminister(); err != nil {
		return store.Campaign{}, err
	}
	if due < time.Second {
		return store.Campaign{}, errs.Invalidf("a campaign is due in a second at least, not %s", due)
	}
	if onDue != api.OnDueRevoke && onDue != api.OnDueFlag {
		return store.Campaign{}, errs.Invalidf("at the due date undecided grants are revoked or flagged, not %q", onDue)
	}
	v, err := s.view(ctx)
	if err != nil {
		return store.Campaign{}, err
	}
	uses, err := s.store.LastUses(ctx, store.LastUseFilter{})
	if err != nil {
		return store.Campaign{}, err
	}
	last := map[[2]string]time.Time{}
	for _, u := range uses {
		last[[2]string{u.Role, u.User}] = u.LastUsed
	}
	policies, err := s.store.Policies(ctx)
	if err != nil {
		return store.Campaign{}, err
	}
	approvers := map[string][]string{}
	for _, pol := range policies {
		approvers[pol.Role] = pol.Approvers
	}
	now := s.now()
	c := store.Campaign{ID: newSID(), CreatedBy: p.User, CreatedAt: now, DueAt: now.Add(due), OnDue: onDue, Status: api.CampaignOpen, Items: []store.CampaignItem{}}
	for _, g := range v.grants {
		if g.Eligible {
			continue // requests are reviewed one by one already
		}
		it := store.CampaignItem{Role: g.Role, Group: g.Group, Members: []store.MemberUse{}, Reviewers: append([]string{}, approvers[g.Role]...)}
		for _, u := range v.groups[g.Group] {
			m := store.MemberUse{User: u, LastUsed: last[[2]string{g.Role, u}]}
			it.Members = append(it.Members, m)
			if m.LastUsed.After(it.LastUsed) {
				it.LastUsed = m.LastUsed
			}
		}
		c.Items = append(c.Items, it)
	}
	c.Pending = len(c.Items)
	what := fmt.Sprintf("%s started a recertification of %d standing grant(s), due %s (then %s)", p.User, len(c.Items), c.DueAt.Format(time.RFC3339), map[string]string{api.OnDueRevoke: "revoked", api.OnDueFlag: "flagged"}[onDue])
	sess := s.reviewSession(c, p.User, api.CampaignOpen, what)
	if err := s.store.CreateCampaign(ctx, c, sess); err != nil {
		return store.Campaign{}, err
	}
	s.emit(sess)
	return c, nil
}

// reviewSession is a finished session of campaign c's life.
func (s *core) reviewSession(c store.Campaign, actor, status, what string) store.Session {
	in, _ := json.Marshal(map[string]any{"campaign": c.ID, "due_at": c.DueAt, "on_due": c.OnDue})
	now := s.now()
	return store.Session{SID: newSID(), Kind: KindReview, Actor: actor, CreatedAt: now, FinishedAt: now, Replica: s.replica,
		Status: status, Message: what, Input: string(in), Output: what + "\n"}
}

// mayDecide reports whether p decides item it: an administrator, or a
// member of one of its reviewer groups.
func (v *accessView) mayDecide(p Principal, it store.CampaignItem) bool {
	return p.Admin || slices.ContainsFunc(it.Reviewers, func(g string) bool { return v.member(p.User, g) })
}

// visible is c with only the items p decides, or false when there is
// none (a member sees nothing of a campaign that is not theirs).
func (v *accessView) visible(p Principal, c store.Campaign) (store.Campaign, bool) {
	if p.Admin {
		return c, true
	}
	items := c.Items[:0:0]
	for _, it := range c.Items {
		if v.mayDecide(p, it) {
			items = append(items, it)
		}
	}
	c.Items = items
	return c, len(items) > 0
}

// List lists campaigns, newest first: all to administrators; to a member,
// those with items they review.
func (s *Campaigns) List(ctx context.Context, p Principal) ([]store.Campaign, error) {
	if err := p.Authenticated(); err != nil {
		return nil, err
	}
	list, err := s.store.Campaigns(ctx)
	if err != nil || p.Admin {
		return list, err
	}
	v, err := s.view(ctx)
	if err != nil {
		return nil, err
	}
	out := []store.Campaign{}
	for _, c := range list {
		full, err := s.store.Campaign(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		if mine, ok := v.visible(p, full); ok {
			mine.Items = nil
			out = append(out, mine)
		}
	}
	return out, nil
}

// Get returns a campaign with the items p may see.
func (s *Campaigns) Get(ctx context.Context, p Principal, id string) (store.Campaign, error) {
	if err := p.Authenticated(); err != nil {
		return store.Campaign{}, err
	}
	c, err := s.store.Campaign(ctx, id)
	if err != nil {
		return c, err
	}
	v, err := s.view(ctx)
	if err != nil {
		return c, err
	}
	mine, ok := v.visible(p, c)
	if !ok {
		return store.Campaign{}, errs.New(errs.NotFound, "campaign %s does not exist", id)
	}
	return mine, nil
}

// DecideGrants confirms or (revoke) revokes the grants of campaign id named
// "ROLE/GROUP", as p, who must review each. A revoked grant is deleted in
// the same transaction as the decision, and the connections that depended
// on it close. A campaign whose every item is decided closes.
func (s *Campaigns) DecideGrants(ctx context.Context, p Principal, id string, grants []string, revoke bool, note string) (store.Campaign, error) {
	if err := p.Authenticated(); err != nil {
		return store.Campaign{}, err
	}
	if len(grants) == 0 {
		return store.Campaign{}, errs.Invalidf("no grant named: give ROLE/GROUP of each")
	}
	v, err := s.view(ctx)
	if err != nil {
		return store.Campaign{}, err
	}
	note = strings.TrimSpace(note)
	if err := plainText("note", note); err != nil {
		return store.Campaign{}, err
	}
	decision, verb := store.ItemConfirmed, "confirmed"
	if revoke {
		decision, verb = store.ItemRevoked, "revoked"
	}
	refs, err := s.roleRefs(ctx)
	if err != nil {
		return store.Campaign{}, err
	}
	var made []store.Session
	c, err := s.store.UpdateCampaign(ctx, id, func(c *store.Campaign) ([]store.Grant, []store.Session, error) {
		made = nil
		if c.Status != api.CampaignOpen {
			return nil, nil, errs.New(errs.Conflict, "campaign %s is %s", id, c.Status)
		}
		now := s.now()
		var gone []store.Grant
		for _, name := range grants {
			role, group, ok := strings.Cut(name, "/")
			i := slices.IndexFunc(c.Items, func(it store.CampaignItem) bool { return it.Role == role && it.Group == group })
			switch {
			case !ok || i < 0 || !v.mayDecide(p, c.Items[i]):
				return nil, nil, errs.New(errs.NotFound, "campaign %s has no grant %q you review", id, name)
			case c.Items[i].Decision != "":
				return nil, nil, errs.New(errs.Conflict, "the grant of %s to %s is %s already (by %s)", role, group, c.Items[i].Decision, c.Items[i].DecidedBy)
			}
			it := &c.Items[i]
			it.Decision, it.DecidedBy, it.DecidedAt, it.Note = decision, p.User, now, note
			what := fmt.Sprintf("%s %s group %s's use of %s in campaign %s%s", p.User, verb, group, role, id, because(note))
			sess := s.reviewSession(*c, p.User, decision, what)
			sess.Role, sess.Resource, sess.Label = role, refs[role].Resource, refs[role].Label
			made = append(made, sess)
			if revoke {
				gone = append(gone, store.Grant{Role: role, Group: group})
				made = append(made, s.campaignRevoked(refs[role], *it, c.ID, p.User, what))
			}
		}
		if slices.IndexFunc(c.Items, func(it store.CampaignItem) bool { return it.Decision == "" }) < 0 {
			made = append(made, s.closeCampaign(c, p.User, now))
		}
		return gone, made, nil
	})
	if err != nil {
		return store.Campaign{}, err
	}
	for _, sess := range made {
		s.emit(sess)
	}
	if revoke {
		s.connections.enforceNow(ctx)
	}
	mine, _ := v.visible(p, c)
	return mine, nil
}

// campaignRevoked is the access session of a grant a campaign revoked,
// on resource role rr (read before the store's transaction).
func (s *core) campaignRevoked(rr ResourceRole, it store.CampaignItem, campaign, actor, what string) store.Session {
	in, _ := json.Marshal(map[string]any{"role": it.Role, "revoke": it.Group, "campaign": campaign})
	now := s.now()
	return store.Session{SID: newSID(), Kind: KindAccess, Resource: rr.Resource, Role: it.Role, Label: rr.Label, Actor: actor, CreatedAt: now, FinishedAt: now,
		Replica: s.replica, Status: "ok", Message: what, Input: string(in), Output: what + "\n"}
}

// roleRefs maps every resource role by name, read once for sessions made
// inside a store transaction.
func (s *core) roleRefs(ctx context.Context) (map[string]ResourceRole, error) {
	all, err := s.resourceRoles(ctx)
	out := make(map[string]ResourceRole, len(all))
	for _, rr := range all {
		out[rr.Name] = rr
	}
	return out, err
}

// closeCampaign closes c, as actor, and returns its outcome's session.
func (s *core) closeCampaign(c *store.Campaign, actor string, now time.Time) store.Session {
	c.Status, c.ClosedAt = api.CampaignClosed, now
	counts := map[string]int{}
	for _, it := range c.Items {
		counts[it.Decision]++
	}
	what := fmt.Sprintf("campaign %s closed: %d confirmed, %d revoked, %d flagged", c.ID, counts[store.ItemConfirmed], counts[store.ItemRevoked], counts[store.ItemFlagged])
	return s.reviewSession(*c, actor, api.CampaignClosed, what)
}

// CloseDue closes the open campaigns whose due date came: each undecided
// grant is revoked (its connections close) or flagged, as the campaign
// said, once across replicas.
func (s *Campaigns) CloseDue(ctx context.Context) error {
	list, err := s.store.Campaigns(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	var refs map[string]ResourceRole
	for _, c := range list {
		if c.Status != api.CampaignOpen || c.DueAt.After(now) {
			continue
		}
		if refs == nil {
			if refs, err = s.roleRefs(ctx); err != nil {
				return err
			}
		}
		var made []store.Session
		revoked := false
		_, err := s.store.UpdateCampaign(ctx, c.ID, func(c *store.Campaign) ([]store.Grant, []store.Session, error) {
			made = nil
			if c.Status != api.CampaignOpen {
				return nil, nil, store.ErrNoChange // another replica closed it
			}
			var gone []store.Grant
			for i := range c.Items {
				it := &c.Items[i]
				if it.Decision != "" {
					continue
				}
				it.DecidedBy, it.DecidedAt = "stile", now
				if c.OnDue == api.OnDueRevoke {
					it.Decision, it.Note = store.ItemRevoked, "not recertified by the due date"
					gone = append(gone, store.Grant{Role: it.Role, Group: it.Group})
					what := fmt.Sprintf("group %s's use of %s was revoked: not recertified by the due date of campaign %s", it.Group, it.Role, c.ID)
					made = append(made, s.campaignRevoked(refs[it.Role], *it, c.ID, "stile", what))
				} else {
					it.Decision, it.Note = store.ItemFlagged, "not recertified by the due date"
				}
			}
			revoked = len(gone) > 0
			made = append(made, s.closeCampaign(c, "stile", now))
			return gone, made, nil
		})
		switch {
		case errs.Is(err, errs.NotFound), errors.Is(err, store.ErrNoChange):
			continue
		case err != nil:
			return err
		}
		for _, sess := range made {
			s.emit(sess)
		}
		if revoked {
			s.connections.enforceNow(ctx)
		}
	}
	return nil
}

// lastCampaign is the newest campaign, with its items (nil: none yet).
func (s *core) lastCampaign(ctx context.Context) (*store.Campaign, error) {
	list, err := s.store.Campaigns(ctx)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	c, err := s.store.Campaign(ctx, list[0].ID)
	return &c, err
}

// CloseDueEvery runs CloseDue every interval until ctx ends.
func (s *Campaigns) CloseDueEvery(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		if err := s.CloseDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("close due campaigns", "err", err)
		}
	})
}

package service

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// UsageWindows are the windows, in days, usage is reported over.
var UsageWindows = []int{7, 30, 90}

// checkWindow refuses a window usage is not kept for.
func checkWindow(days int) error {
	if days < 1 || days > store.UsageDays {
		return errs.Invalidf("days %d: usage is kept for 1 to %d days", days, store.UsageDays)
	}
	return nil
}

// RoleUse is api.RoleUse (the wire type), kept here for the server side.
type RoleUse = api.RoleUse

// UnusedRole is api.UnusedRole (the wire type), kept here for the server side.
type UnusedRole = api.UnusedRole

// UnusedGrant is api.UnusedGrant (the wire type), kept here for the server side.
type UnusedGrant = api.UnusedGrant

// UsageReport is api.UsageReport (the wire type), kept here for the server side.
type UsageReport = api.UsageReport

// Usage reports the fleet's use over the last days days. It reads the
// usage records kept as connections finish, never the sessions.
func (s *Reporting) Usage(ctx context.Context, p Principal, days int) (UsageReport, error) {
	if err := p.MayAdminister(); err != nil {
		return UsageReport{}, err
	}
	rep := UsageReport{Days: days, Today: store.Day(s.now()), Roles: []RoleUse{}, Unused: []UnusedRole{}, UnusedGrants: []UnusedGrant{}}
	if err := checkWindow(days); err != nil {
		return rep, err
	}
	since := rep.Today.Add(-time.Duration(days-1) * 24 * time.Hour)
	fleet, err := s.store.UsageRecords(ctx, store.UsageFleet, "")
	if err != nil {
		return rep, err
	}
	rep.Daily = make([]int64, days)
	if len(fleet) == 1 {
		rep.Total, rep.Daily = window(fleet[0].Series, rep.Today, days)
	}
	records, err := s.store.UsageRecords(ctx, store.UsageRole, "")
	if err != nil {
		return rep, err
	}
	used := make(map[string]store.UsageRecord, len(records))
	for _, r := range records {
		used[r.Name] = r
		if r.LastUsed.Before(since) {
			continue
		}
		u := RoleUse{Role: r.Name, LastUsed: r.LastUsed}
		u.Usage, u.Daily = window(r.Series, rep.Today, days)
		rep.Roles = append(rep.Roles, u)
	}
	roles, err := s.store.Roles(ctx, "")
	if err != nil {
		return rep, err
	}
	v, err := s.view(ctx)
	if err != nil {
		return rep, err
	}
	access := v.groupsByRole()
	known := make(map[string]store.Role, len(roles))
	for _, r := range roles {
		known[r.RoleName] = r
		// A role is in use once an apply has given it a password; one
		// younger than the window has not had the time to be unused.
		if r.PasswordCurrent == "" || !r.CreatedAt.Before(since) || !used[r.RoleName].LastUsed.Before(since) {
			continue
		}
		rep.Unused = append(rep.Unused, UnusedRole{Role: r.RoleName, Resource: r.Resource, Label: r.Label, Created: r.CreatedAt,
			LastUsed: used[r.RoleName].LastUsed, Groups: access[r.RoleName]})
	}
	for i := range rep.Roles {
		if r, ok := known[rep.Roles[i].Role]; ok {
			rep.Roles[i].Resource, rep.Roles[i].Label = r.Resource, r.Label
		}
	}
	slices.SortFunc(rep.Roles, func(a, b RoleUse) int {
		return cmp.Or(cmp.Compare(b.Usage.Connections, a.Usage.Connections), cmp.Compare(a.Role, b.Role))
	})
	slices.SortFunc(rep.Unused, func(a, b UnusedRole) int {
		return cmp.Or(a.LastUsed.Compare(b.LastUsed), cmp.Compare(a.Role, b.Role))
	})
	rep.UnusedGrants, err = s.unusedGrants(ctx, access, since)
	return rep, err
}

// unusedGrants finds the grants (role, group) no current member of the
// group used since since. Only the uses since then are read.
func (s *Reporting) unusedGrants(ctx context.Context, access map[string][]string, since time.Time) ([]UnusedGrant, error) {
	out := []UnusedGrant{}
	if len(access) == 0 {
		return out, nil
	}
	groups, err := s.store.Groups(ctx)
	if err != nil {
		return nil, err
	}
	recent, err := s.store.LastUses(ctx, store.LastUseFilter{Since: since})
	if err != nil {
		return nil, err
	}
	type pair struct{ role, user string }
	usedBy := make(map[pair]time.Time, len(recent))
	for _, l := range recent {
		usedBy[pair{l.Role, l.User}] = l.LastUsed
	}
	var older []string
	for role, gs := range access {
		for _, g := range gs {
			members := groups[g]
			if slices.ContainsFunc(members, func(u string) bool { _, ok := usedBy[pair{role, u}]; return ok }) {
				continue
			}
			out = append(out, UnusedGrant{Role: role, Group: g, Members: len(members)})
			older = append(older, role)
		}
	}
	// When each unused grant was last used, by a current member: the
	// older uses of just those roles.
	if len(older) > 0 {
		slices.Sort(older)
		uses, err := s.store.LastUses(ctx, store.LastUseFilter{Roles: slices.Compact(older)})
		if err != nil {
			return nil, err
		}
		for _, l := range uses {
			usedBy[pair{l.Role, l.User}] = l.LastUsed
		}
		for i, g := range out {
			for _, u := range groups[g.Group] {
				if t := usedBy[pair{g.Role, u}]; t.After(g.LastUsed) {
					out[i].LastUsed = t
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b UnusedGrant) int { return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Group, b.Group)) })
	return out, nil
}

// window is a series' total and connections per day over the days days
// that end today.
func window(sr store.Series, today time.Time, days int) (store.Usage, []int64) {
	var total store.Usage
	w := sr.At(today).Window(days)
	daily := make([]int64, len(w))
	for i, d := range w {
		total.Add(d)
		daily[i] = d.Connections
	}
	return total, daily
}

// SubjectUsage is api.SubjectUsage (the wire type), kept here for the server side.
type SubjectUsage = api.SubjectUsage

// SubjectUsage reports the use of a role (kind store.UsageRole) or of a
// user (store.UsageUser) over the last days days.
func (s *Reporting) SubjectUsage(ctx context.Context, p Principal, kind, name string, days int) (SubjectUsage, error) {
	if err := p.MayAdminister(); err != nil {
		return SubjectUsage{}, err
	}
	u := SubjectUsage{Kind: kind, Name: name, Days: days, Today: store.Day(s.now()), LastUses: []store.LastUse{}}
	if err := checkWindow(days); err != nil {
		return u, err
	}
	recs, err := s.store.UsageRecords(ctx, kind, name)
	if err != nil {
		return u, err
	}
	var sr store.Series
	if len(recs) == 1 {
		sr, u.Total, u.LastUsed = recs[0].Series, recs[0].Total, recs[0].LastUsed
	}
	u.Daily = slices.Clone(sr.At(u.Today).Window(days))
	for _, d := range u.Daily {
		u.Usage.Add(d)
	}
	f := store.LastUseFilter{Roles: []string{name}}
	if kind == store.UsageUser {
		f = store.LastUseFilter{User: name}
	}
	last, err := s.store.LastUses(ctx, f)
	if err != nil {
		return u, err
	}
	u.LastUses = append(u.LastUses, last...)
	slices.SortFunc(u.LastUses, func(a, b store.LastUse) int { return b.LastUsed.Compare(a.LastUsed) })
	return u, nil
}

// CatchUpUsage counts, once per store, the connections that finished
// before usage was kept, so that an upgraded server's Usage page starts
// with its history. It reads their sessions' recorded summaries.
func (s *Reporting) CatchUpUsage(ctx context.Context) error {
	mark := s.now().UTC().Format(time.RFC3339Nano)
	got, err := s.store.SetMetaOnce(ctx, "usage_since", mark)
	if err != nil || got != mark {
		return err
	}
	since := s.now()
	until := since
	n := 0
	for {
		page, err := s.store.Sessions(ctx, store.SessionFilter{Kind: KindConnect, Status: "ok", Until: until, Limit: 1000})
		if err != nil {
			return err
		}
		batch := make([]store.ConnectionUsage, 0, len(page))
		for _, sess := range page {
			if sess.FinishedAt.Before(since) {
				batch = append(batch, store.ConnectionUsage{Session: sess, Usage: usageOf(sess)})
			}
		}
		if err := s.store.AddUsage(ctx, batch...); err != nil {
			return err
		}
		n += len(batch)
		if len(page) < 1000 {
			break
		}
		until = page[len(page)-1].CreatedAt
	}
	if n > 0 {
		s.log.Info("usage counted for earlier connections", "connections", n)
	}
	return nil
}

// usageOf reads a connect session's summary (as Finish writes it).
func usageOf(sess store.Session) store.Usage {
	u := store.Usage{Connections: 1, Seconds: int64(sess.FinishedAt.Sub(sess.CreatedAt).Round(time.Second) / time.Second)}
	listed := int64(0)
	for line := range strings.Lines(sess.Output) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch {
		case k == "bytes_from_client":
			u.BytesIn = n
		case k == "bytes_to_client":
			u.BytesOut = n
		case k == "executed":
			u.Statements = n
		case strings.HasPrefix(line, "  - "):
			listed++
		}
	}
	if u.Statements == 0 {
		u.Statements = listed
	}
	return u
}

package sqldb

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// FinishConnections finishes connect sessions and adds their usage.
func (s *DB) FinishConnections(ctx context.Context, done ...store.ConnectionUsage) error {
	return s.tx(ctx, func(tx conn) error {
		for _, d := range done {
			if err := finishSession(ctx, tx, d.Session); err != nil {
				return err
			}
		}
		return addUsage(ctx, tx, done)
	})
}

// AddUsage adds finished connections' usage.
func (s *DB) AddUsage(ctx context.Context, done ...store.ConnectionUsage) error {
	return s.tx(ctx, func(tx conn) error { return addUsage(ctx, tx, done) })
}

type usageKey struct{ kind, name string }

// usageAdd is what a batch adds to one usage record.
type usageAdd struct {
	last  time.Time
	total store.Usage
	days  []store.ConnectionUsage
}

// addUsage adds each connection to its role's, its user's and the fleet's
// record and to its user's last use of its role. Records are locked in one
// order (kind, name), so concurrent batches on replicas never deadlock.
func addUsage(ctx context.Context, tx conn, done []store.ConnectionUsage) error {
	adds := map[usageKey]*usageAdd{}
	type pair struct{ role, user string }
	last := map[pair]store.LastUse{}
	for _, d := range done {
		s := d.Session
		for _, k := range []usageKey{{store.UsageRole, s.Role}, {store.UsageUser, s.Actor}, {store.UsageFleet, ""}} {
			a := adds[k]
			if a == nil {
				a = &usageAdd{}
				adds[k] = a
			}
			if s.FinishedAt.After(a.last) {
				a.last = s.FinishedAt
			}
			a.total.Add(d.Usage)
			a.days = append(a.days, d)
		}
		p := pair{s.Role, s.Actor}
		l := last[p]
		l.Role, l.User, l.Connections = s.Role, s.Actor, l.Connections+d.Usage.Connections
		if s.FinishedAt.After(l.LastUsed) {
			l.LastUsed = s.FinishedAt
		}
		last[p] = l
	}
	keys := make([]usageKey, 0, len(adds))
	for k := range adds {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b usageKey) int { return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.name, b.name)) })
	for _, k := range keys {
		if err := addUsageRecord(ctx, tx, k, adds[k]); err != nil {
			return fmt.Errorf("usage of %s %s: %w", k.kind, k.name, err)
		}
	}
	pairs := make([]store.LastUse, 0, len(last))
	for _, l := range last {
		pairs = append(pairs, l)
	}
	slices.SortFunc(pairs, func(a, b store.LastUse) int { return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.User, b.User)) })
	for _, l := range pairs {
		_, err := tx.exec(ctx, `INSERT INTO {usage_last} (role, user_name, last_used, connections) VALUES (?, ?, ?, ?)
ON CONFLICT (role, user_name) DO UPDATE SET connections = {usage_last}.connections + excluded.connections,
    last_used = CASE WHEN {usage_last}.last_used < excluded.last_used THEN excluded.last_used ELSE {usage_last}.last_used END`,
			l.Role, l.User, tx.tm(l.LastUsed), l.Connections)
		if err != nil {
			return fmt.Errorf("last use of %s by %s: %w", l.Role, l.User, err)
		}
	}
	return nil
}

func addUsageRecord(ctx context.Context, tx conn, k usageKey, a *usageAdd) error {
	// Insert first, then lock: two replicas adding to a new record must
	// not both start from nothing.
	if _, err := tx.exec(ctx, "INSERT INTO {usage} (kind, name) VALUES (?, ?) ON CONFLICT (kind, name) DO NOTHING", k.kind, k.name); err != nil {
		return err
	}
	r, err := scanUsage(tx.row(ctx, "SELECT "+usageCols+" FROM {usage} WHERE kind = ? AND name = ?{lock}", k.kind, k.name))
	if err != nil {
		return err
	}
	if a.last.After(r.LastUsed) {
		r.LastUsed = a.last
	}
	r.Total.Add(a.total)
	for _, d := range a.days {
		r.Series.Add(d.Session.CreatedAt, d.Usage)
	}
	days, _ := r.Series.MarshalBinary()
	_, err = tx.exec(ctx, "UPDATE {usage} SET last_used = ?, connections = ?, seconds = ?, bytes_in = ?, bytes_out = ?, statements = ?, days = ? WHERE kind = ? AND name = ?",
		tx.tm(r.LastUsed), r.Total.Connections, r.Total.Seconds, r.Total.BytesIn, r.Total.BytesOut, r.Total.Statements, days, k.kind, k.name)
	return err
}

const usageCols = "kind, name, last_used, connections, seconds, bytes_in, bytes_out, statements, days"

func scanUsage(row scanner) (store.UsageRecord, error) {
	var r store.UsageRecord
	var days []byte
	t := &r.Total
	if err := row.Scan(&r.Kind, &r.Name, at{&r.LastUsed}, &t.Connections, &t.Seconds, &t.BytesIn, &t.BytesOut, &t.Statements, &days); err != nil {
		return r, err
	}
	return r, r.Series.UnmarshalBinary(days)
}

// UsageRecords lists usage records of a kind.
func (s *DB) UsageRecords(ctx context.Context, kind, name string) ([]store.UsageRecord, error) {
	if name != "" {
		return queryAll(ctx, s.c(), "read usage", scanUsage, "SELECT "+usageCols+" FROM {usage} WHERE kind = ? AND name = ?", kind, name)
	}
	return queryAll(ctx, s.c(), "read usage", scanUsage, "SELECT "+usageCols+" FROM {usage} WHERE kind = ? ORDER BY name{C}", kind)
}

// LastUses lists users' last use of roles.
func (s *DB) LastUses(ctx context.Context, f store.LastUseFilter) ([]store.LastUse, error) {
	// Many roles are read a chunk at a time: a statement's parameters are
	// bounded (SQLite's at 32,766).
	if len(f.Roles) > 500 {
		var out []store.LastUse
		for chunk := range slices.Chunk(f.Roles, 500) {
			g := f
			g.Roles = chunk
			part, err := s.LastUses(ctx, g)
			if err != nil {
				return nil, err
			}
			out = append(out, part...)
		}
		slices.SortFunc(out, func(a, b store.LastUse) int { return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.User, b.User)) })
		return out, nil
	}
	c := s.c()
	where, args := []string{"1 = 1"}, []any{}
	if len(f.Roles) > 0 {
		where = append(where, "role IN (?"+strings.Repeat(", ?", len(f.Roles)-1)+")")
		for _, r := range f.Roles {
			args = append(args, r)
		}
	}
	if f.User != "" {
		where, args = append(where, "user_name = ?"), append(args, f.User)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "last_used >= ?"), append(args, c.tm(f.Since))
	}
	return queryAll(ctx, c, "read last uses", func(row scanner) (store.LastUse, error) {
		var l store.LastUse
		return l, row.Scan(&l.Role, &l.User, at{&l.LastUsed}, &l.Connections)
	}, "SELECT role, user_name, last_used, connections FROM {usage_last} WHERE "+strings.Join(where, " AND ")+" ORDER BY role{C}, user_name{C}", args...)
}

// SeeAddress records a token's use from an address.
func (s *DB) SeeAddress(ctx context.Context, token, addr string, at time.Time) (isNew bool, others int, err error) {
	err = s.tx(ctx, func(tx conn) error {
		n, err := tx.affect(ctx, "INSERT INTO {token_addresses} (token, addr, first_seen) VALUES (?, ?, ?) ON CONFLICT (token, addr) DO NOTHING", token, addr, tx.tm(at))
		if err != nil {
			return err
		}
		isNew = n == 1
		return tx.row(ctx, "SELECT count(*) FROM {token_addresses} WHERE token = ? AND addr <> ?", token, addr).Scan(&others)
	})
	if err != nil {
		err = fmt.Errorf("record the address of a token: %w", err)
	}
	return isNew, others, err
}

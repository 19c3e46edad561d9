package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// CreateGroup adds a group.
func (s *DB) CreateGroup(ctx context.Context, name string) error {
	_, err := s.c().exec(ctx, "INSERT INTO {groups} (name) VALUES (?)", name)
	return s.conflictOr(err, "group %q exists already", name)
}

// Groups lists groups and members.
func (s *DB) Groups(ctx context.Context) (map[string][]string, error) {
	rows, err := pairs(ctx, s.c(), "list groups", "SELECT g.name, coalesce(m.user_name, '') FROM {groups} g LEFT JOIN {group_members} m ON m.group_name = g.name ORDER BY g.name{C}, m.user_name{C}")
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, r := range rows {
		if _, ok := out[r[0]]; !ok {
			out[r[0]] = []string{}
		}
		if r[1] != "" {
			out[r[0]] = append(out[r[0]], r[1])
		}
	}
	return out, nil
}

// pairs runs q, which selects two text columns.
func pairs(ctx context.Context, c conn, op, q string) ([][2]string, error) {
	return queryAll(ctx, c, op, func(row scanner) ([2]string, error) {
		var p [2]string
		return p, row.Scan(&p[0], &p[1])
	}, q)
}

// SetMember adds or removes a user from a group.
func (s *DB) SetMember(ctx context.Context, group, user string, in bool) error {
	if !in {
		_, err := s.c().exec(ctx, "DELETE FROM {group_members} WHERE group_name = ? AND user_name = ?", group, user)
		return err
	}
	_, err := s.c().exec(ctx, "INSERT INTO {group_members} (group_name, user_name) VALUES (?, ?) ON CONFLICT DO NOTHING", group, user)
	return s.fkOr(err, "group %q or user %q does not exist", group, user)
}

const grantCols = "role_name, group_name, eligible, until, granted_by, granted_at"

func scanGrant(row scanner) (store.Grant, error) {
	var g store.Grant
	err := row.Scan(&g.Role, &g.Group, &g.Eligible, at{&g.Until}, &g.GrantedBy, at{&g.GrantedAt})
	return g, err
}

// PutGrant grants a group the use of a resource role, or changes the
// grant.
func (s *DB) PutGrant(ctx context.Context, g store.Grant) error {
	c := s.c()
	_, err := c.exec(ctx, "INSERT INTO {access} ("+grantCols+") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (role_name, group_name) DO UPDATE SET eligible = excluded.eligible, until = excluded.until, granted_by = excluded.granted_by, granted_at = excluded.granted_at",
		g.Role, g.Group, g.Eligible, c.tm(g.Until), g.GrantedBy, c.tm(g.GrantedAt))
	return s.fkOr(err, "group %q does not exist", g.Group)
}

// DeleteGrant revokes a group's use of a resource role.
func (s *DB) DeleteGrant(ctx context.Context, role, group string) error {
	_, err := s.c().exec(ctx, "DELETE FROM {access} WHERE role_name = ? AND group_name = ?", role, group)
	return err
}

// Grants lists every grant, by role and group.
func (s *DB) Grants(ctx context.Context) ([]store.Grant, error) {
	return queryAll(ctx, s.c(), "list grants", scanGrant, "SELECT "+grantCols+" FROM {access} ORDER BY role_name{C}, group_name{C}")
}

// EndGrants removes the grants whose end has come and records a session
// for each, in one transaction: of replicas sweeping at once, one ends
// each grant.
func (s *DB) EndGrants(ctx context.Context, now time.Time, session func(store.Grant) store.Session) ([]store.Grant, error) {
	var ended []store.Grant
	err := s.tx(ctx, func(tx conn) error {
		due, err := queryAll(ctx, tx, "list grants ending", scanGrant, "SELECT "+grantCols+" FROM {access} WHERE NOT (until {unset}) AND until <= ? ORDER BY role_name{C}, group_name{C}{lock}", tx.tm(now))
		if err != nil {
			return err
		}
		for _, g := range due {
			n, err := tx.affect(ctx, "DELETE FROM {access} WHERE role_name = ? AND group_name = ? AND until = ?", g.Role, g.Group, tx.tm(g.Until))
			if err != nil {
				return fmt.Errorf("end grant: %w", err)
			}
			if n == 0 {
				continue
			}
			if err := insertSession(ctx, tx, session(g)); err != nil {
				return err
			}
			ended = append(ended, g)
		}
		return nil
	})
	return ended, err
}

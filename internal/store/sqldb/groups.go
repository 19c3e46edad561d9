package sqldb

import (
	"context"
	"fmt"
)

// CreateGroup adds a group.
func (s *DB) CreateGroup(ctx context.Context, name string) error {
	_, err := s.c().exec(ctx, "INSERT INTO {groups} (name) VALUES (?)", name)
	return s.conflictOr(err, "group %q exists already", name)
}

// Groups lists groups and members.
func (s *DB) Groups(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	rows, err := s.c().query(ctx, "SELECT g.name, coalesce(m.user_name, '') FROM {groups} g LEFT JOIN {group_members} m ON m.group_name = g.name ORDER BY g.name{C}, m.user_name{C}")
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g, u string
		if err := rows.Scan(&g, &u); err != nil {
			return nil, err
		}
		if _, ok := out[g]; !ok {
			out[g] = []string{}
		}
		if u != "" {
			out[g] = append(out[g], u)
		}
	}
	return out, rows.Err()
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

// SetAccess grants or revokes a group's use of a resource role.
func (s *DB) SetAccess(ctx context.Context, role, group string, on bool) error {
	if !on {
		_, err := s.c().exec(ctx, "DELETE FROM {access} WHERE role_name = ? AND group_name = ?", role, group)
		return err
	}
	_, err := s.c().exec(ctx, "INSERT INTO {access} (role_name, group_name) VALUES (?, ?) ON CONFLICT DO NOTHING", role, group)
	return s.fkOr(err, "group %q does not exist", group)
}

// Access lists the groups allowed per resource role.
func (s *DB) Access(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	rows, err := s.c().query(ctx, "SELECT role_name, group_name FROM {access} ORDER BY role_name{C}, group_name{C}")
	if err != nil {
		return nil, fmt.Errorf("list access: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r, g string
		if err := rows.Scan(&r, &g); err != nil {
			return nil, err
		}
		out[r] = append(out[r], g)
	}
	return out, rows.Err()
}

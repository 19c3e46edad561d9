package sqldb

import "context"

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
	rows, err := pairs(ctx, s.c(), "list access", "SELECT role_name, group_name FROM {access} ORDER BY role_name{C}, group_name{C}")
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r[0]] = append(out[r[0]], r[1])
	}
	return out, nil
}

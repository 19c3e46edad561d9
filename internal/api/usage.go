package api

import "time"

// Usage is what connections did.
type Usage struct {
	Connections int64 `json:"connections"`
	Seconds     int64 `json:"seconds"`
	BytesIn     int64 `json:"bytes_in"`
	BytesOut    int64 `json:"bytes_out"`
	Statements  int64 `json:"statements"`
}

// LastUse is a user's last use of a role.
type LastUse struct {
	Role        string    `json:"role"`
	User        string    `json:"user"`
	LastUsed    time.Time `json:"last_used"`
	Connections int64     `json:"connections"`
}

// UsageReport is the fleet's use over a window of days: the Usage page and
// GET /api/v1/usage.
type UsageReport struct {
	Days  int       `json:"days"`
	Today time.Time `json:"today"`
	// Total is the fleet's use in the window; Daily its connections per
	// day, oldest first.
	Total Usage   `json:"total"`
	Daily []int64 `json:"daily"`
	// Roles are the roles used in the window, most connections first.
	Roles []RoleUse `json:"roles"`
	// Unused lists the applied roles older than the window that nobody
	// used in it; UnusedGrants the group grants no member used in it: what
	// a least-privilege review removes first.
	Unused       []UnusedRole  `json:"unused"`
	UnusedGrants []UnusedGrant `json:"unused_grants"`
}

// RoleUse is a resource role's use over a window.
type RoleUse struct {
	Role     string    `json:"role"`
	Resource string    `json:"resource_name,omitempty"`
	Label    string    `json:"label,omitempty"`
	Usage    Usage     `json:"usage"`
	LastUsed time.Time `json:"last_used,omitzero"`
	// Daily is connections per day over the window, oldest first.
	Daily []int64 `json:"daily"`
}

// UnusedRole is a resource role nobody used in the window.
type UnusedRole struct {
	Role     string    `json:"role"`
	Resource string    `json:"resource_name"`
	Label    string    `json:"label"`
	Created  time.Time `json:"created_at"`
	LastUsed time.Time `json:"last_used,omitzero"`
	// Groups may use it.
	Groups []string `json:"groups,omitempty"`
}

// UnusedGrant is a group's use of a role that none of its members used in
// the window.
type UnusedGrant struct {
	Role  string `json:"role"`
	Group string `json:"group"`
	// LastUsed is the last use by any current member, if any.
	LastUsed time.Time `json:"last_used,omitzero"`
	Members  int       `json:"members"`
}

// SubjectUsage is one role's or one user's use: the window's total and
// days, and the last use of each user of the role (of each role by the
// user).
type SubjectUsage struct {
	Kind     string    `json:"kind"`
	Name     string    `json:"name"`
	Days     int       `json:"days"`
	Today    time.Time `json:"today"`
	Usage    Usage     `json:"usage"`
	Total    Usage     `json:"total"`
	LastUsed time.Time `json:"last_used,omitzero"`
	Daily    []Usage   `json:"daily"`
	LastUses []LastUse `json:"last_uses"`
}

// Add adds v to u.
func (u *Usage) Add(v Usage) {
	u.Connections += v.Connections
	u.Seconds += v.Seconds
	u.BytesIn += v.BytesIn
	u.BytesOut += v.BytesOut
	u.Statements += v.Statements
}

package spec

import (
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/stile-dev/stile/internal/errs"
)

// Resource is one PostgreSQL server in the inventory, as declared.
type Resource struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Database string `json:"database"`
	SSLMode  string `json:"sslmode"`
}

var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// SSLModes returns the sslmode values an inventory row may use, weakest
// first.
func SSLModes() []string { return slices.Clone(sslModes) }

// Normalize validates r, fills defaults (database postgres, sslmode prefer)
// and canonicalizes the type to "postgres". Errors are errs.Invalid naming
// the field.
func (r Resource) Normalize() (Resource, error) {
	r.Name = strings.TrimSpace(r.Name)
	r.Host = strings.TrimSpace(r.Host)
	r.Database = strings.TrimSpace(r.Database)
	r.SSLMode = strings.ToLower(strings.TrimSpace(r.SSLMode))
	if err := checkName("name", r.Name); err != nil {
		return r, err
	}
	switch strings.ToLower(strings.TrimSpace(r.Type)) {
	case "postgres", "postgresql":
		r.Type = "postgres"
	case "":
		return r, errs.Invalidf("type is empty (want PostgreSQL)")
	default:
		return r, errs.Invalidf("type %q is not supported (want PostgreSQL)", r.Type)
	}
	if r.Host == "" || strings.ContainsFunc(r.Host, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) || c == '/' }) {
		return r, errs.Invalidf("host %q is not a host name or address", r.Host)
	}
	if r.Port < 1 || r.Port > 65535 {
		return r, errs.Invalidf("port %d is out of range 1-65535", r.Port)
	}
	if r.Database == "" {
		r.Database = "postgres"
	}
	if err := checkName("database", r.Database); err != nil {
		return r, err
	}
	if r.SSLMode == "" {
		r.SSLMode = "prefer"
	}
	if !contains(sslModes, r.SSLMode) {
		return r, errs.Invalidf("sslmode %q is not one of %s", r.SSLMode, strings.Join(sslModes, ", "))
	}
	return r, nil
}

// ParsePort parses a port column.
func ParsePort(s string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, errs.Invalidf("port %q is not a number", s)
	}
	return p, nil
}

func checkName(field, v string) error {
	if v == "" {
		return errs.Invalidf("%s is empty", field)
	}
	if len(v) > 200 {
		return errs.Invalidf("%s is longer than 200 bytes", field)
	}
	if strings.ContainsFunc(v, unicode.IsControl) {
		return errs.Invalidf("%s %q holds control characters", field, v)
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Admin is one admin credential row.
type Admin struct {
	Resource string `json:"name"`
	User     string `json:"admin_user"`
	Password string `json:"-"`
}

// Validate checks that no field is empty.
func (a Admin) Validate() error {
	if strings.TrimSpace(a.Resource) == "" {
		return errs.Invalidf("name is empty")
	}
	if err := checkName("admin_user", a.User); err != nil {
		return err
	}
	if a.Password == "" {
		return errs.Invalidf("password is empty")
	}
	return nil
}

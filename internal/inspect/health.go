package inspect

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/target"
)

// Health is the result of a health check.
type Health struct {
	Status        string `json:"status" yaml:"status"`
	Error         string `json:"error,omitempty" yaml:"error,omitempty"`
	ServerVersion string `json:"server_version,omitempty" yaml:"server_version,omitempty"`
	VersionNum    int    `json:"server_version_num,omitempty" yaml:"server_version_num,omitempty"`
	Admin         string `json:"admin,omitempty" yaml:"admin,omitempty"`
	Superuser     bool   `json:"superuser" yaml:"superuser"`
	CreateRole    bool   `json:"createrole" yaml:"createrole"`
	// CanManageRoles: superuser or CREATEROLE.
	CanManageRoles bool `json:"can_manage_roles" yaml:"can_manage_roles"`
	InRecovery     bool `json:"in_recovery" yaml:"in_recovery"`
	TLS            bool `json:"tls" yaml:"tls"`
	// Databases is the capability matrix: for each database that takes
	// connections, its owner and whether the admin can act for it.
	Databases []DatabaseCapability `json:"databases,omitempty" yaml:"databases,omitempty"`
	// Warnings say what is risky but allowed, such as a connection that is
	// not encrypted or whose certificate is not verified.
	Warnings []string `json:"warnings,omitempty" yaml:"warnings,omitempty"`
	// CreateRoleSelfGrant: on 16+, whether a non-superuser admin will set
	// createrole_self_grant before CREATE ROLE.
	CreateRoleSelfGrant bool `json:"createrole_self_grant,omitempty" yaml:"createrole_self_grant,omitempty"`
}

// DatabaseCapability says whether the admin can grant on a database.
type DatabaseCapability struct {
	Name        string `json:"name" yaml:"name"`
	Owner       string `json:"owner" yaml:"owner"`
	CanActFor   bool   `json:"can_act_for_owner" yaml:"can_act_for_owner"`
	Connectable bool   `json:"connectable" yaml:"connectable"`
}

// CheckHealth connects to the target and reports what the admin can do.
// Any failure (unreachable, authentication, standby, not privileged) is
// returned as a classified *errs.Error, with the Health filled so far.
func CheckHealth(ctx context.Context, t target.Target) (Health, error) {
	h := Health{Status: "error"}
	conn, err := t.Connect(ctx, t.Database)
	if err != nil {
		h.Error = errs.Public(nil, err)
		return h, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	snap, err := ReadCluster(ctx, conn, nil)
	if err != nil {
		err = errs.New(errs.Failed, "read catalog: %v", err)
		h.Error = errs.Public(nil, err)
		return h, err
	}
	s := snap.Server
	h.ServerVersion, h.VersionNum, h.Admin = s.Version, s.VersionNum, s.Admin
	h.Superuser, h.CreateRole, h.InRecovery, h.TLS = s.Superuser, s.CreateRole, s.InRecovery, s.SSL
	h.CanManageRoles = s.Superuser || s.CreateRole
	h.CreateRoleSelfGrant = s.CreateRoleIsScoped() && !s.Superuser
	for _, d := range snap.Databases {
		if d.IsTemplate {
			continue
		}
		r, _ := snap.Role(d.Owner)
		h.Databases = append(h.Databases, DatabaseCapability{Name: d.Name, Owner: d.Owner, CanActFor: s.Superuser || r.AdminUsage, Connectable: d.AllowConn})
	}
	switch {
	case s.InRecovery:
		err = errs.New(errs.Failed, "%s:%d is a standby (pg_is_in_recovery): stile manages roles on the primary only", t.Host, t.Port)
	case !h.CanManageRoles:
		err = errs.New(errs.Failed, "admin %q is not privileged enough to manage roles: it needs SUPERUSER or CREATEROLE", s.Admin)
	}
	if err != nil {
		h.Error = errs.Public(nil, err)
		return h, err
	}
	h.Warnings = transportWarnings(t, h.TLS)
	h.Status = "ok"
	return h, nil
}

// transportWarnings flags admin sessions a network attacker could read or
// hijack: unencrypted, or encrypted without verifying the server (prefer,
// require), except on loopback.
func transportWarnings(t target.Target, tls bool) []string {
	if ip := net.ParseIP(t.Host); t.Host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	switch {
	case !tls:
		return []string{fmt.Sprintf("the admin connection to %s is not encrypted (sslmode %s): use verify-full", t.Host, t.SSLMode)}
	case t.SSLMode != "verify-full" && t.SSLMode != "verify-ca":
		return []string{fmt.Sprintf("the admin connection to %s does not verify the server's certificate (sslmode %s): use verify-full", t.Host, t.SSLMode)}
	}
	return nil
}

// CheckLogin reports whether role can log in with password: it decides
// whether a password change of unknown outcome took effect.
func CheckLogin(ctx context.Context, t target.Target, role, password string) (bool, error) {
	as := t
	as.User, as.Password = role, password
	cfg, err := as.Config(t.Database)
	if err != nil {
		return false, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		conn.Close(ctx)
		return true, nil
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pgErr.Code {
		case "28P01", "28000":
			return false, nil
		case "42501": // authenticated, but no CONNECT on the database
			return true, nil
		}
	}
	return false, fmt.Errorf("check login: %w", target.Classify(err, as.String()))
}

package service

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// KindAccess is the session kind of a change to who may use what: users,
// tokens, groups, grants and approval settings.
const KindAccess = "access"

// recordAccess records an access change as a finished session and exports
// it; role names the resource role it concerns, if any.
func (s *core) recordAccess(ctx context.Context, actor, role string, in map[string]any, format string, args ...any) error {
	data, _ := json.Marshal(in)
	now, what := s.now(), fmt.Sprintf(format, args...)
	sess := store.Session{SID: newSID(), Kind: KindAccess, Role: role, Actor: actor, CreatedAt: now, FinishedAt: now,
		Replica: s.replica, Status: "ok", Message: what, Input: string(data), Output: what + "\n"}
	if role != "" {
		if rr, err := s.resourceRole(ctx, role); err == nil {
			sess.Resource, sess.Label = rr.Resource, rr.Label
		}
	}
	if err := s.store.CreateSessions(ctx, sess); err != nil {
		return fmt.Errorf("done, but recording it in the audit trail failed: %w", err)
	}
	s.emit(sess)
	return nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

func checkName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return errs.Invalidf("%s name %q must be 1-63 of [a-z0-9._-], starting with a letter or digit", kind, name)
	}
	return nil
}

// CreateUser adds a user; admin users may do everything the admin token can.
func (s *Access) CreateUser(ctx context.Context, p Principal, name string, admin bool) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if err := checkName("user", name); err != nil {
		return err
	}
	if name == Admin.User {
		return errs.New(errs.Conflict, "user name %q is reserved for the admin token", name)
	}
	if err := s.store.CreateUser(ctx, store.User{Name: name, Admin: admin, CreatedAt: s.now()}); err != nil {
		return err
	}
	power := "member"
	if admin {
		power = "administrator"
	}
	return s.recordAccess(ctx, p.User, "", map[string]any{"create_user": name, "admin": admin}, "%s added %s %s", p.User, power, name)
}

// Users lists users.
func (s *Access) Users(ctx context.Context, p Principal) ([]store.User, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	return s.store.Users(ctx)
}

// SetUserDisabled disables (or enables) a user: their tokens stop working
// and their open connections through this server are closed.
func (s *Access) SetUserDisabled(ctx context.Context, p Principal, name string, disabled bool) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if err := s.store.SetUserDisabled(ctx, name, disabled); err != nil {
		return err
	}
	if disabled {
		s.connections.enforceNow(ctx)
	}
	s.log.Info("user disabled", "user", name, "disabled", disabled)
	verb := "enabled"
	if disabled {
		verb = "disabled"
	}
	return s.recordAccess(ctx, p.User, "", map[string]any{"user": name, "disabled": disabled}, "%s %s user %s", p.User, verb, name)
}

// newUserToken makes a personal token and its id.
func newUserToken() (id, token string) {
	return secret.NewToken()[:12], "stlp_" + secret.NewToken()
}

// CreateToken makes a personal access token for user and returns its id
// and the token, shown this once (only its hash is stored).
func (s *Access) CreateToken(ctx context.Context, p Principal, user string) (id, token string, err error) {
	if err = p.MayAdminister(); err != nil {
		return
	}
	id, token = newUserToken()
	if err := s.store.CreateToken(ctx, store.Token{ID: id, User: user, Hash: secret.TokenHash(token), CreatedAt: s.now()}); err != nil {
		return "", "", err
	}
	err = s.recordAccess(ctx, p.User, "", map[string]any{"token": id, "user": user}, "%s made token %s for %s", p.User, id, user)
	return id, token, err
}

// Tokens lists a user's tokens (everyone's for ""), revoked ones too (never
// the tokens themselves: only their ids and dates are kept).
func (s *Access) Tokens(ctx context.Context, p Principal, user string) ([]store.Token, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	if user == "" {
		return s.store.Tokens(ctx, "") // everyone's
	}
	users, err := s.store.Users(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(users, func(u store.User) bool { return u.Name == user }) {
		return nil, errs.New(errs.NotFound, "user %q does not exist", user)
	}
	return s.store.Tokens(ctx, user)
}

// RevokeToken revokes a token by id.
func (s *Access) RevokeToken(ctx context.Context, p Principal, id string) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	return s.revokeToken(ctx, p.User, id)
}

// revokeToken revokes token id for actor, who may (an administrator, or
// its owner signing out), and closes the connections opened with it.
func (s *Access) revokeToken(ctx context.Context, actor, id string) error {
	if err := s.store.RevokeToken(ctx, id); err != nil {
		return err
	}
	s.connections.enforceNow(ctx)
	return s.recordAccess(ctx, actor, "", map[string]any{"revoke_token": id}, "%s revoked token %s", actor, id)
}

// CreateGroup adds a group.
func (s *Access) CreateGroup(ctx context.Context, p Principal, name string) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if err := checkName("group", name); err != nil {
		return err
	}
	if err := s.store.CreateGroup(ctx, name); err != nil {
		return err
	}
	return s.recordAccess(ctx, p.User, "", map[string]any{"create_group": name}, "%s added group %s", p.User, name)
}

// SetMember adds or removes a user from a group.
func (s *Access) SetMember(ctx context.Context, p Principal, group, user string, in bool) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if err := s.store.SetMember(ctx, group, user, in); err != nil {
		return err
	}
	if in {
		return s.recordAccess(ctx, p.User, "", map[string]any{"group": group, "add": user}, "%s added %s to group %s", p.User, user, group)
	}
	s.connections.enforceNow(ctx)
	return s.recordAccess(ctx, p.User, "", map[string]any{"group": group, "remove": user}, "%s removed %s from group %s", p.User, user, group)
}

// Groups lists groups and their members.
func (s *Access) Groups(ctx context.Context, p Principal) (map[string][]string, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	return s.store.Groups(ctx)
}

// SetAccess grants a group the standing use of a resource role, without
// end, or revokes the group's grant, whatever it was.
func (s *Access) SetAccess(ctx context.Context, p Principal, role, group string, on bool) error {
	if on {
		return s.Grant(ctx, p, store.Grant{Role: role, Group: group})
	}
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if err := s.store.DeleteGrant(ctx, role, group); err != nil {
		return err
	}
	s.connections.enforceNow(ctx)
	return s.recordAccess(ctx, p.User, role, map[string]any{"role": role, "revoke": group}, "%s revoked group %s's use of %s", p.User, group, role)
}

// Grant grants g.Group the use of g.Role, or changes its grant: standing
// (members connect) or eligible (members request a window), without end
// or until g.Until, which must be in the future.
func (s *Access) Grant(ctx context.Context, p Principal, g store.Grant) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if _, err := s.resourceRole(ctx, g.Role); err != nil {
		return err
	}
	now := s.now()
	if !g.Until.IsZero() && !g.Until.After(now) {
		return errs.Invalidf("--until %s is not in the future", g.Until.Format(time.RFC3339))
	}
	g.Until, g.GrantedBy, g.GrantedAt = g.Until.UTC(), p.User, now
	if err := s.store.PutGrant(ctx, g); err != nil {
		return err
	}
	// A grant made eligible takes away standing use.
	s.connections.enforceNow(ctx)
	in := map[string]any{"role": g.Role, "grant": g.Group, "eligible": g.Eligible}
	kind, until := "the use of", ""
	if g.Eligible {
		kind = "eligibility (by request) for"
	}
	if !g.Until.IsZero() {
		in["until"], until = g.Until, " until "+g.Until.Format(time.RFC3339)
	}
	return s.recordAccess(ctx, p.User, g.Role, in, "%s granted group %s %s %s%s", p.User, g.Group, kind, g.Role, until)
}

// Access lists the groups granted each resource role, eligible ones too.
func (s *Access) Access(ctx context.Context, p Principal) (map[string][]string, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	v, err := s.view(ctx)
	if err != nil {
		return nil, err
	}
	return v.groupsByRole(), nil
}

// Grants lists the grants in force, by role and group.
func (s *Access) Grants(ctx context.Context, p Principal) ([]store.Grant, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	v, err := s.view(ctx)
	if err != nil {
		return nil, err
	}
	return v.grants, nil
}

// CanSee reports whether p may see resource role name: those who may use
// it, and members eligible to request it.
func (s *Access) CanSee(ctx context.Context, p Principal, name string) (bool, error) {
	if p.Admin {
		return true, nil
	}
	v, err := s.view(ctx)
	return err == nil && (v.mayConnect(p.User, name) || v.eligible(p.User, name)), err
}

// ResourceRolesFor lists the resource roles p may use or request.
func (s *Access) ResourceRolesFor(ctx context.Context, p Principal) ([]ResourceRole, error) {
	all, err := s.resourceRoles(ctx)
	if err != nil || p.Admin {
		return all, err
	}
	v, err := s.view(ctx)
	if err != nil {
		return nil, err
	}
	return v.seen(p, all), nil
}

// seen keeps the roles of all that p may use or request.
func (v *accessView) seen(p Principal, all []ResourceRole) []ResourceRole {
	if p.Admin {
		return all
	}
	var out []ResourceRole
	for _, r := range all {
		if v.mayConnect(p.User, r.Name) || v.eligible(p.User, r.Name) {
			out = append(out, r)
		}
	}
	return out
}

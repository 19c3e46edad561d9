package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/mask"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// MaskRules lists a resource role's masking rules.
func (s *Masking) MaskRules(ctx context.Context, p Principal, role string) ([]mask.Rule, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	rules, err := s.store.MaskRules(ctx, role)
	if rules == nil {
		rules = []mask.Rule{}
	}
	return rules, err
}

// AddMaskRule adds a masking rule to a resource role (an id is made when r
// has none); its connections opened from now on are masked with it.
//
// A strict rule is enforced by PostgreSQL as well, from the role's next
// apply: only a managed role granted SELECT can have one.
func (s *Masking) AddMaskRule(ctx context.Context, p Principal, role string, r mask.Rule) (mask.Rule, error) {
	if err := p.MayAdminister(); err != nil {
		return mask.Rule{}, err
	}
	if _, err := s.resourceRole(ctx, role); err != nil {
		return r, err
	}
	if r.Strict {
		stored, err := s.store.RoleByName(ctx, role)
		if err != nil {
			return r, err
		}
		if privs := stored.Spec.Privileges; stored.Spec.Type != spec.Managed || !(slices.Contains(privs, "SELECT") || slices.Contains(privs, "ALL")) {
			return r, errs.Invalidf("%s is not a managed role granted SELECT, so there is no SELECT to withhold: drop --strict (the rule still masks at the proxy)", role)
		}
	}
	if r.ID == "" {
		r.ID = secret.NewToken()[:8]
	}
	if err := checkName("rule", r.ID); err != nil {
		return r, err
	}
	if err := r.Validate(); err != nil {
		return r, errs.Invalidf("%v", err)
	}
	if err := s.store.AddMaskRule(ctx, role, r, s.now()); err != nil {
		return r, err
	}
	what := r.Column
	if what == "" {
		what = "the " + r.Detector + " detector"
	}
	if r.Strict {
		what += ", strict"
	}
	return r, s.recordAccess(ctx, p.User, role, map[string]any{"role": role, "mask_rule": r}, "%s masked %s (%s) in %s's results: rule %s", p.User, what, r.Style, role, r.ID)
}

// RemoveMaskRule removes one.
func (s *Masking) RemoveMaskRule(ctx context.Context, p Principal, role, id string) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if err := s.store.DeleteMaskRule(ctx, role, id); err != nil {
		return err
	}
	return s.recordAccess(ctx, p.User, role, map[string]any{"role": role, "unmask_rule": id}, "%s removed masking rule %s of %s", p.User, id, role)
}

// masking is what the service keeps for masking: the key of the hash
// style, and the columns resolved (a table's OID and attribute number to
// names, per database), for a minute.
type masking struct {
	mu      sync.Mutex
	key     []byte
	columns map[string]resolved
	// gen counts, per resource and database, the schema changes seen
	// through stile: a name resolved before the latest is not used.
	gen map[string]int
	// listener is where this server's PostgreSQL listener serves, for the
	// masking check.
	listener string
	// api is where this server's API serves, for the masking check.
	api string
	// checker reads the statements of every filtered connection, for
	// guardrails and schema changes (parses cached by text).
	checker *guard.Checker
}

type resolved struct {
	col mask.Column
	ok  bool
	at  time.Time
	gen int
}

// forgetColumns drops what is known of database's column names: a
// statement through stile may have changed them (mask.Filter.SchemaChanged).
func (s *Masking) forgetColumns(resource, database string) {
	s.masking.mu.Lock()
	defer s.masking.mu.Unlock()
	if s.masking.gen == nil {
		s.masking.gen = map[string]int{}
	}
	s.masking.gen[resource+"|"+database]++
}

// columnTTL bounds how long a resolved column is trusted: a renamed
// column's rules follow it within this.
const columnTTL = time.Minute

// maskKey is the hash style's key: made once per store, sealed.
func (s *Masking) maskKey(ctx context.Context) ([]byte, error) {
	s.masking.mu.Lock()
	defer s.masking.mu.Unlock()
	if s.masking.key != nil {
		return s.masking.key, nil
	}
	sealed, err := s.store.SetMetaOnce(ctx, "mask_key", s.box.Seal(secret.NewToken(), maskKeyAD))
	if err != nil {
		return nil, err
	}
	k, err := s.box.Open(sealed, maskKeyAD)
	if err != nil {
		return nil, fmt.Errorf("the masking key: %w", err)
	}
	s.masking.key = []byte(k)
	return s.masking.key, nil
}

// Guardrails returns a resource role's guardrails.
func (s *Masking) Guardrails(ctx context.Context, p Principal, role string) (guard.Policy, error) {
	if err := p.MayAdminister(); err != nil {
		return guard.Policy{}, err
	}
	policy, err := s.store.Guardrails(ctx, role)
	if policy.Block == nil {
		policy.Block = []string{}
	}
	return policy, err
}

// SetGuardrails replaces a resource role's guardrails; connections opened
// from then on follow them.
func (s *Masking) SetGuardrails(ctx context.Context, p Principal, role string, policy guard.Policy) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if _, err := s.resourceRole(ctx, role); err != nil {
		return err
	}
	if err := policy.Validate(); err != nil {
		return errs.Invalidf("%v", err)
	}
	slices.Sort(policy.Block)
	policy.Block = slices.Compact(policy.Block)
	if err := s.store.SetGuardrails(ctx, role, policy); err != nil {
		return err
	}
	return s.recordAccess(ctx, p.User, role, map[string]any{"role": role, "guardrails": policy}, "%s set %s's guardrails: block %v, read-only %v", p.User, role, policy.Block, policy.ReadOnly)
}

// connFilter is the filter of a connection to rr's database (its masking
// rules and guardrails) and its guardrails, or a nil filter when the role
// has neither.
func (s *Masking) connFilter(ctx context.Context, rr ResourceRole, database string) (*mask.Filter, guard.Policy, error) {
	policy, err := s.store.Guardrails(ctx, rr.Name)
	if err != nil {
		return nil, policy, err
	}
	rules, err := s.store.MaskRules(ctx, rr.Name)
	if err != nil || (len(rules) == 0 && policy.Empty()) {
		return nil, policy, err
	}
	key, err := s.maskKey(ctx)
	if err != nil {
		return nil, policy, err
	}
	m, err := mask.New(rules, key)
	if err != nil {
		return nil, policy, err
	}
	res, err := s.store.Resource(ctx, rr.Resource)
	if err != nil {
		return nil, policy, err
	}
	f := mask.NewFilter(m, func(table uint32, attnum int16) (mask.Column, bool) {
		return s.resolveColumn(context.WithoutCancel(ctx), res, database, table, attnum)
	})
	f.Checker = s.masking.checker
	if m.HasColumnRules() {
		f.SchemaChanged = func() { s.forgetColumns(res.Name, database) }
	}
	if !policy.Empty() {
		f.Guard = func(sql string, settled bool) string { return s.masking.checker.Check(policy, sql, settled) }
	}
	return f, policy, nil
}

// nameColumn asks res's agent, with its admin credentials, to name a
// result column.
func (s *Masking) nameColumn(ctx context.Context, res store.Resource, database string, table uint32, attnum int16) (inspect.Column, error) {
	t, err := s.target(res)
	if err != nil {
		return inspect.Column{}, err
	}
	ag, err := s.agent(res.Agent)
	if err != nil {
		return inspect.Column{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return ag.Column(ctx, t, database, table, attnum)
}

// probeColumns checks that the resource's agent names result columns: it
// asks for pg_class's first column (pg_catalog.pg_class.oid).
func (s *Masking) probeColumns(ctx context.Context, rr ResourceRole, database string) error {
	res, err := s.store.Resource(ctx, rr.Resource)
	if err != nil {
		return err
	}
	c, err := s.nameColumn(ctx, res, database, 1259, 1)
	if err == nil && (c.Table != "pg_class" || c.Name != "oid") {
		err = fmt.Errorf("it named pg_class.oid %s.%s", c.Table, c.Name)
	}
	return err
}

// resolveColumn names a result's column from its table's OID and attribute
// number, with the resource's admin connection, through the resource's
// agent. A column it cannot name is redacted (mask.Filter).
func (s *Masking) resolveColumn(ctx context.Context, res store.Resource, database string, table uint32, attnum int16) (mask.Column, bool) {
	key := fmt.Sprintf("%s|%s|%d|%d", res.Name, database, table, attnum)
	s.masking.mu.Lock()
	gen := s.masking.gen[res.Name+"|"+database]
	if r, ok := s.masking.columns[key]; ok && r.gen == gen && s.now().Sub(r.at) < columnTTL {
		s.masking.mu.Unlock()
		return r.col, r.ok
	}
	s.masking.mu.Unlock()
	r := resolved{at: s.now(), col: mask.Column{Database: database}, gen: gen}
	c, err := s.nameColumn(ctx, res, database, table, attnum)
	r.col.Schema, r.col.Table, r.col.Name, r.ok = c.Schema, c.Table, c.Name, err == nil
	if !r.ok {
		// Not kept: the next result asks again.
		s.log.Warn("masking: a result column could not be named; its values are redacted", "resource", res.Name, "database", database, "table", table, "attnum", attnum, "err", err)
		return r.col, false
	}
	s.masking.mu.Lock()
	if s.masking.columns == nil {
		s.masking.columns = map[string]resolved{}
	}
	s.masking.columns[key] = r
	s.masking.mu.Unlock()
	return r.col, r.ok
}

// maskSummary is what a connect session records of its masking and
// guardrails: how many values each rule masked (never the values), and the
// statements refused, with why.
func maskSummary(fired map[string]int, blocked []string) string {
	var b strings.Builder
	if len(blocked) > 0 {
		b.WriteString("refused by guardrails:\n")
		for _, x := range blocked {
			fmt.Fprintf(&b, "  - %q\n", x)
		}
	}
	if len(fired) == 0 {
		return b.String()
	}
	ids := make([]string, 0, len(fired))
	for id := range fired {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b.WriteString("masked:\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "  - rule %s: %d values\n", id, fired[id])
	}
	return b.String()
}

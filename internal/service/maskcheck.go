package service

import (
	"cmp"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/mask"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/sqlq"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/target"
)

// KindMaskingCheck is the session of a masking check.
const KindMaskingCheck = "masking_check"

// AlertMaskingLeak is the alert of a masking check that got a raw value.
const AlertMaskingLeak = "masking_leak"

// The paths a masking check probes.
const (
	// PathRelay is the relay the console and the PostgreSQL listener
	// share (proxy.Pipe), run in the server's process.
	PathRelay = "relay"
	// PathListener is this server's PostgreSQL listener, over the network.
	PathListener = "listener"
	// PathConnect is stile connect's relay: the server's WebSocket
	// endpoint, dialled as stile connect dials it.
	PathConnect = "connect"
	// PathDirect is the role's own password, straight to the database:
	// only strict rules hold there.
	PathDirect = "direct"
)

// The outcomes of a probe. Raw is a leak.
const (
	ProbeMasked  = "masked"
	ProbeRefused = "refused"
	ProbeRaw     = "raw"
	ProbeError   = "error"
	ProbeSkipped = "skipped"
)

// MaskingCheck is api.MaskingCheck (the wire type), kept here for the server side.
type MaskingCheck = api.MaskingCheck

// MaskingProbe is api.MaskingProbe (the wire type), kept here for the server side.
type MaskingProbe = api.MaskingProbe

// canary is a query whose first column a rule masks; its second column is
// md5 of the first's text, computed by PostgreSQL, which no rule masks: a
// first column whose md5 is the second is the raw value. No raw value is
// ever read by stile outside the probe.
type canary struct {
	name, database, sql string
	strict              bool
}

// detectorSamples are values each built-in detector masks.
var detectorSamples = map[string]string{
	"email": "canary.check@example.com", "card": "4111 1111 1111 1111", "iban": "GB82 WEST 1234 5698 7654 32",
	"phone": "+44 20 7946 0958", "ipv4": "192.0.2.44", "ipv6": "2001:db8::8a2e:370:7334",
	"jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
}

// SetListenerAddr tells the service where its PostgreSQL listener serves
// (an address it can dial: loopback for a wildcard), for the masking
// check's listener path.
func (s *Masking) SetListenerAddr(addr string) {
	s.masking.mu.Lock()
	defer s.masking.mu.Unlock()
	s.masking.listener = addr
}

// SetAPIBase tells the service where its own API serves (http:// or
// https://host:port), for the masking check's stile connect path.
func (s *Masking) SetAPIBase(base string) {
	s.masking.mu.Lock()
	defer s.masking.mu.Unlock()
	s.masking.api = base
}

// CheckMasking runs role's masking canaries (each column rule's first
// column it matches, with a value; each detector's sample) through every
// path the role is reached by, in text and binary, records a
// masking_check session, and raises a critical alert when a path returned
// a raw value. Errors: not_found for an unknown role, invalid for a role
// without masking rules.
func (s *Masking) CheckMasking(ctx context.Context, p Principal, role string) (MaskingCheck, error) {
	if err := p.MayAdminister(); err != nil {
		return MaskingCheck{}, err
	}
	out := MaskingCheck{Role: role}
	rr, err := s.resourceRole(ctx, role)
	if err != nil {
		return out, err
	}
	rules, err := s.store.MaskRules(ctx, role)
	if err != nil {
		return out, err
	}
	if len(rules) == 0 {
		return out, errs.Invalidf("%s has no masking rules to check", role)
	}
	canaries, skipped, err := s.canaries(ctx, rr, rules)
	if err != nil {
		return out, err
	}
	out.Probes = append(out.Probes, skipped...)
	for _, path := range []string{PathRelay, PathListener, PathConnect, PathDirect} {
		out.Probes = append(out.Probes, s.probePath(ctx, rr, path, canaries)...)
	}
	for _, p := range out.Probes {
		switch p.Outcome {
		case ProbeRaw:
			out.Leaks++
		case ProbeError:
			out.Errors++
		}
	}
	out.SID = newSID()
	now := s.now()
	in, _ := json.Marshal(map[string]any{"role": role})
	sess := store.Session{SID: out.SID, Kind: KindMaskingCheck, Resource: rr.Resource, Role: role, Label: rr.Label, Actor: p.User,
		CreatedAt: now, FinishedAt: now, Replica: s.replica, Status: "ok", Input: string(in), Output: out.Text()}
	switch {
	case out.Leaks > 0:
		sess.Status, sess.ExitCode = "leak", 1
		sess.Message = fmt.Sprintf("%d probe(s) of %s returned a raw value", out.Leaks, role)
	case out.Errors > 0:
		sess.Status, sess.ExitCode = "incomplete", 1
		sess.Message = fmt.Sprintf("%d probe(s) of %s could not tell", out.Errors, role)
	}
	if err := s.store.CreateSessions(ctx, sess); err != nil {
		return out, err
	}
	s.emit(sess)
	if out.Leaks > 0 {
		s.raise(ctx, "critical", map[string]any{"alert": AlertMaskingLeak, "role": role, "check": out.SID},
			"masking check %s: %d probe(s) of %s returned a raw value (stile sessions show %s)", out.SID, out.Leaks, role, out.SID)
	}
	return out, nil
}

// canaries makes role's canaries: for each column rule, the first column
// it matches in its database that has a value (found through the relay,
// as the role, from pg_attribute, which lists withheld columns too); for
// each detector, its sample.
func (s *Masking) canaries(ctx context.Context, rr ResourceRole, rules []mask.Rule) ([]canary, []MaskingProbe, error) {
	var out []canary
	var skipped []MaskingProbe
	// The databases of the role's scopes, where a rule's * reaches.
	dbs := []string{rr.Database}
	if role, err := s.store.Role(ctx, rr.Resource, rr.Label); err == nil && len(role.Spec.Scopes) > 0 {
		dbs = nil
		for _, sc := range role.Spec.Scopes {
			if db := strings.SplitN(sc, ".", 2)[0]; !slices.Contains(dbs, db) {
				dbs = append(dbs, db)
			}
		}
		slices.Sort(dbs)
	}
	columns := map[string][][3]string{} // database: schema, table, column
	for _, r := range rules {
		switch {
		case r.Column != "":
			where := dbs
			if db := strings.SplitN(r.Column, ".", 2)[0]; !strings.Contains(db, "*") {
				where = []string{db}
			}
			m, err := mask.New([]mask.Rule{r}, nil)
			if err != nil {
				return nil, nil, err
			}
			found := false
			for _, db := range where {
				if _, ok := columns[db]; !ok {
					cols, err := s.roleColumns(ctx, rr, db)
					if err != nil {
						skipped = append(skipped, MaskingProbe{Path: "-", Canary: "rule " + r.ID, Outcome: ProbeError, Detail: "listing the columns of " + db + ": " + errs.Public(s.log, err, "role", rr.Name)})
					}
					columns[db] = cols
				}
				for _, c := range columns[db] {
					if m.ForColumn(mask.Column{Database: db, Schema: c[0], Table: c[1], Name: c[2]}) == nil {
						continue
					}
					col, tbl := sqlq.Ident(c[2]), sqlq.Qualified(c[0], c[1])
					out = append(out, canary{
						name: fmt.Sprintf("rule %s: %s.%s.%s.%s", r.ID, db, c[0], c[1], c[2]), database: db, strict: r.Strict,
						sql: fmt.Sprintf("SELECT %s, md5(%s::text) FROM %s WHERE %s IS NOT NULL LIMIT 1", col, col, tbl, col),
					})
					found = true
					break
				}
				if found {
					break
				}
			}
			if !found {
				skipped = append(skipped, MaskingProbe{Path: "-", Canary: "rule " + r.ID, Outcome: ProbeSkipped, Detail: "no column the role may read matches " + r.Column})
			}
		case r.Detector != "":
			sample, ok := detectorSamples[r.Detector]
			if !ok {
				skipped = append(skipped, MaskingProbe{Path: "-", Canary: "rule " + r.ID + ": detector " + r.Detector, Outcome: ProbeSkipped, Detail: "no sample for a custom regex"})
				continue
			}
			lit := sqlq.Literal(sample)
			out = append(out, canary{name: "rule " + r.ID + ": detector " + r.Detector, database: dbs[0],
				sql: fmt.Sprintf("SELECT %s::text, md5(%s)", lit, lit)})
		}
	}
	return out, skipped, nil
}

// roleColumns lists the columns of db's tables and views the role may
// read some of, sorted.
func (s *Masking) roleColumns(ctx context.Context, rr ResourceRole, db string) ([][3]string, error) {
	pc, done, err := s.relayConn(ctx, rr, db)
	if err != nil {
		return nil, err
	}
	defer done()
	rows := pc.ExecParams(ctx, `SELECT n.nspname, c.relname, a.attname FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
AND has_any_column_privilege(c.oid, 'SELECT') ORDER BY 1, 2, a.attnum`, nil, nil, nil, nil).Read()
	if rows.Err != nil {
		return nil, rows.Err
	}
	var out [][3]string
	for _, row := range rows.Rows {
		out = append(out, [3]string{string(row[0]), string(row[1]), string(row[2])})
	}
	return out, nil
}

// probePath runs every canary through path, in text and binary format.
func (s *Masking) probePath(ctx context.Context, rr ResourceRole, path string, canaries []canary) []MaskingProbe {
	var out []MaskingProbe
	byDB := map[string][]canary{}
	var dbs []string
	for _, c := range canaries {
		if path == PathDirect && !c.strict {
			continue // masking is stile's: only strict rules hold without it
		}
		if _, ok := byDB[c.database]; !ok {
			dbs = append(dbs, c.database)
		}
		byDB[c.database] = append(byDB[c.database], c)
	}
	slices.Sort(dbs)
	for _, db := range dbs {
		pc, done, err := s.pathConn(ctx, rr, path, db)
		var why skipped
		errMsg := ""
		if err != nil && !errors.As(err, &why) {
			errMsg = errs.Public(s.log, err, "role", rr.Name, "path", path, "database", db)
		}
		for _, c := range byDB[db] {
			for _, format := range []int16{0, 1} {
				p := MaskingProbe{Path: path, Canary: c.name, Format: map[int16]string{0: "text", 1: "binary"}[format]}
				switch {
				case why != "":
					p.Outcome, p.Detail = ProbeSkipped, string(why)
				case err != nil:
					p.Outcome, p.Detail = ProbeError, errMsg
				default:
					p.Outcome, p.Detail = probe(ctx, pc, c.sql, format, path == PathDirect)
				}
				out = append(out, p)
			}
		}
		if err == nil {
			done()
		}
	}
	return out
}

// skipped is a path that does not apply, and why, in words for people.
type skipped string

func (s skipped) Error() string { return "skip: " + string(s) }

// probe runs one canary and tells what came back.
func probe(ctx context.Context, pc *pgconn.PgConn, sql string, format int16, direct bool) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rr := pc.ExecParams(ctx, sql, nil, nil, nil, []int16{format, 0})
	var value, sum []byte
	rows := 0
	for rr.NextRow() {
		if rows == 0 {
			v := rr.Values()
			value, sum = append([]byte(nil), v[0]...), append([]byte(nil), v[1]...)
		}
		rows++
	}
	fields := rr.FieldDescriptions()
	_, err := rr.Close()
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		if pgErr.Code == "42501" {
			return ProbeRefused, pgErr.Message
		}
		return ProbeError, pgErr.Message
	}
	if err != nil {
		return ProbeError, errs.Public(nil, err, "probe", "canary")
	}
	if rows == 0 {
		return ProbeSkipped, "no row with a value"
	}
	if direct {
		return ProbeRaw, "a strict column was read with the role's own password"
	}
	want := hex.EncodeToString(func() []byte { h := md5.Sum(value); return h[:] }())
	if string(sum) == want {
		return ProbeRaw, ""
	}
	if format == 1 && len(fields) > 0 && !mask.TextInBinary(fields[0].DataTypeOID) {
		// Its binary form is no text to compare: the filter refuses a
		// masked column in such a form, so anything that came is raw.
		return ProbeRaw, fmt.Sprintf("a value of type oid %d came in binary format", fields[0].DataTypeOID)
	}
	return ProbeMasked, ""
}

// pathConn opens db as rr through path: done closes it.
func (s *Masking) pathConn(ctx context.Context, rr ResourceRole, path, db string) (*pgconn.PgConn, func(), error) {
	switch path {
	case PathRelay:
		return s.relayConn(ctx, rr, db)
	case PathListener:
		s.masking.mu.Lock()
		addr := s.masking.listener
		s.masking.mu.Unlock()
		if addr == "" {
			return nil, nil, skipped("this server runs no PostgreSQL listener (--pg-listen)")
		}
		if s.signIn.adminToken == "" {
			return nil, nil, skipped("no admin token to sign in to the listener with")
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, nil, err
		}
		cfg, err := pgconn.ParseConfig(fmt.Sprintf("host=%s port=%s dbname=%s user=%s sslmode=prefer connect_timeout=10", host, port, quoteConn(db), quoteConn(rr.Name)))
		if err != nil {
			return nil, nil, err
		}
		cfg.Password = s.signIn.adminToken
		pc, err := pgconn.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		return pc, func() { pc.Close(context.WithoutCancel(ctx)) }, nil
	case PathConnect:
		return s.connectConn(ctx, rr, db)
	case PathDirect:
		if rr.Agent != agent.LocalName {
			return nil, nil, skipped("the database is reached through agent " + rr.Agent + ", not from the server")
		}
		pw, err := s.rolePassword(ctx, rr)
		if err != nil {
			return nil, nil, err
		}
		cfg, err := (target.Target{Host: rr.Host, Port: rr.Port, SSLMode: rr.SSLMode, User: rr.Name, Password: pw}).Config(db)
		if err != nil {
			return nil, nil, err
		}
		pc, err := pgconn.ConnectConfig(ctx, &cfg.Config)
		if err != nil {
			return nil, nil, target.Classify(err, rr.Name+"@"+rr.Host)
		}
		return pc, func() { pc.Close(context.WithoutCancel(ctx)) }, nil
	}
	return nil, nil, fmt.Errorf("no path %q", path)
}

// quoteConn quotes a connection-string value.
func quoteConn(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// relayConn opens db as rr through the relay the console and the listener
// share (a connect session, as the admin); done closes it and waits for
// the session to finish.
func (s *Masking) relayConn(ctx context.Context, rr ResourceRole, db string) (*pgconn.PgConn, func(), error) {
	c, err := s.connections.Connect(ctx, Admin, rr.Name, db)
	if err != nil {
		return nil, nil, err
	}
	client, server := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.connections.Finish(context.WithoutCancel(ctx), c, proxy.Pipe(server, c.Upstream, c.Mask))
	}()
	cfg, _ := pgconn.ParseConfig("host=stile-masking-check")
	pc, err := pgconn.Construct(&pgconn.HijackedConn{Conn: client, PID: c.Hello.PID, ParameterStatuses: c.Hello.Parameters, TxStatus: 'I', Config: cfg})
	if err != nil {
		client.Close()
		wg.Wait()
		return nil, nil, err
	}
	return pc, func() {
		client.SetDeadline(time.Now().Add(5 * time.Second))
		pc.Close(context.WithoutCancel(ctx))
		wg.Wait()
	}, nil
}

// connectConn opens db as rr through the server's own WebSocket endpoint,
// as stile connect does: the Hello, then the protocol after startup.
func (s *Masking) connectConn(ctx context.Context, rr ResourceRole, db string) (*pgconn.PgConn, func(), error) {
	s.masking.mu.Lock()
	base := s.masking.api
	s.masking.mu.Unlock()
	if base == "" {
		return nil, nil, skipped("the server's own API address is not known (stile server sets it)")
	}
	if s.signIn.adminToken == "" {
		return nil, nil, skipped("no admin token to connect with")
	}
	q := url.Values{"role": {rr.Name}, "database": {db}}
	// It dials itself: the certificate names the server's public name,
	// not the loopback address it is dialled at.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/connect?"+q.Encode(), &websocket.DialOptions{
		HTTPClient: hc, HTTPHeader: http.Header{"Authorization": {"Bearer " + s.signIn.adminToken}},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("stile connect's endpoint: %w", err)
	}
	ws.SetReadLimit(64 << 20)
	_, data, err := ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, nil, fmt.Errorf("stile connect's endpoint: %w", err)
	}
	var h proxy.Hello
	if err := json.Unmarshal(data, &h); err != nil || h.Error != "" {
		ws.CloseNow()
		// The greeting's error is already what people may read.
		return nil, nil, errs.New(errs.Failed, "stile connect's endpoint: %s", cmp.Or(h.Error, "no greeting"))
	}
	nc := websocket.NetConn(context.WithoutCancel(ctx), ws, websocket.MessageBinary)
	cfg, _ := pgconn.ParseConfig("host=stile-masking-check")
	pc, err := pgconn.Construct(&pgconn.HijackedConn{Conn: nc, PID: h.PID, ParameterStatuses: h.Parameters, TxStatus: 'I', Config: cfg})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return pc, func() {
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		pc.Close(context.WithoutCancel(ctx))
		ws.CloseNow()
	}, nil
}

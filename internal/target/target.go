// Package target opens admin connections to a resource's PostgreSQL server
// and classifies connection failures for people.
package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/errs"
)

// ConnectTimeout bounds each connection attempt, so an unreachable host
// fails within seconds.
const ConnectTimeout = 5 * time.Second

// Target is where and as whom an agent connects. Password is the admin's
// plaintext and must never be logged or serialized to disk.
type Target struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Database string `json:"database"`
	SSLMode  string `json:"sslmode"`
	User     string `json:"user"`
	Password string `json:"password"`
	// LockDatabase is where the per-cluster advisory lock is taken
	// (advisory locks are per database); "postgres" when empty.
	LockDatabase string `json:"lock_database,omitempty"`
	// pool lends and keeps its admin connections (In); nil keeps none.
	pool *Pool
}

// String describes the target without its password.
func (t Target) String() string {
	return fmt.Sprintf("%s@%s:%d/%s", t.User, t.Host, t.Port, t.Database)
}

// ClusterKey identifies the cluster, for the advisory lock.
func (t Target) ClusterKey() string { return t.Host + ":" + strconv.Itoa(t.Port) }

// Config returns a pgx config for database on this target. Names are set on
// the config's fields, never pasted into a connection string, so a database
// named like a connection string cannot redirect it.
func (t Target) Config(database string) (*pgx.ConnConfig, error) {
	sslmode := t.SSLMode
	if sslmode == "" {
		sslmode = "prefer"
	}
	dsn := "host=" + conninfoValue(t.Host) + " port=" + strconv.Itoa(t.Port) + " sslmode=" + conninfoValue(sslmode)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errs.Invalidf("connection settings: %v", scrub(err))
	}
	cfg.User = t.User
	cfg.Password = t.Password
	cfg.Database = database
	cfg.ConnectTimeout = ConnectTimeout
	cfg.RuntimeParams = map[string]string{
		"application_name": "stile",
		"TimeZone":         "UTC",
		"DateStyle":        "ISO",
	}
	cfg.OnNotice = dispatchNotice
	return cfg, nil
}

// noticeSink is the key, in a connection's pgconn.PgConn.CustomData, of
// where its notices go (SetNoticeSink). The sink lives with the connection:
// a connection is used by one goroutine at a time, and PostgreSQL's notices
// are dispatched on the goroutine reading its answer.
const noticeSink = "stile.notice-sink"

// SetNoticeSink sends the notices (and warnings) PostgreSQL sends on c to f
// from now on; nil stops it. A connection kept for reuse must have none.
func SetNoticeSink(c *pgx.Conn, f func(*pgconn.Notice)) {
	if f == nil {
		delete(c.PgConn().CustomData(), noticeSink)
		return
	}
	c.PgConn().CustomData()[noticeSink] = f
}

func dispatchNotice(pc *pgconn.PgConn, n *pgconn.Notice) {
	if f, ok := pc.CustomData()[noticeSink].(func(*pgconn.Notice)); ok {
		f(n)
	}
}

// Connect opens a connection to database. Errors are classified *errs.Error
// values that never contain the password.
func (t Target) Connect(ctx context.Context, database string) (*pgx.Conn, error) {
	cfg, err := t.Config(database)
	if err != nil {
		return nil, err
	}
	return ConnectConfig(ctx, cfg, t.String())
}

// ConnectConfig connects with cfg and classifies a failure; who names the
// connection in messages.
func ConnectConfig(ctx context.Context, cfg *pgx.ConnConfig, who string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout+time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, Classify(err, who)
	}
	return conn, nil
}

func conninfoValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// Classify turns a connection error into an *errs.Error that says what went
// wrong: authentication failed (errs.Failed), unreachable, missing
// database, or other.
func Classify(err error, who string) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000":
			// Failed, not Unauthorized: the database refused stile's
			// credentials, which says nothing of who called stile.
			return errs.New(errs.Failed, "authentication failed for %s: %s", who, pgErr.Message)
		case "3D000":
			return errs.New(errs.NotFound, "%s: %s", who, pgErr.Message)
		case "57P03":
			return errs.New(errs.Unavailable, "%s: server is starting up or shutting down", who)
		}
		return errs.New(errs.Failed, "%s: %s (SQLSTATE %s)", who, pgErr.Message, pgErr.Code)
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "dial") {
		return errs.New(errs.Unavailable, "%s is unreachable: %v", who, scrub(err))
	}
	return errs.New(errs.Unavailable, "connect to %s: %v", who, scrub(err))
}

// scrub drops pgx's "failed to connect to `user=… database=…`" prefix
// detail down to the cause; pgx never includes the password there.
func scrub(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "failed to connect") {
		return msg[i+2:]
	}
	return msg
}

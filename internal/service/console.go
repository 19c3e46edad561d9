package service

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/proxy"
)

// ConsoleOptions are a console run's settings.
type ConsoleOptions struct {
	// ReadOnly runs the SQL in a read-only transaction, rolled back.
	ReadOnly bool
	// MaxRows caps the rows kept of each result (DefaultConsoleRows when
	// zero).
	MaxRows int
	// Timeout bounds the run (the service's ConsoleTimeout when zero).
	Timeout time.Duration
}

// The console's limits: rows of a result, and how long a run may take.
const (
	DefaultConsoleRows    = 1000
	DefaultConsoleTimeout = 5 * time.Minute
)

// ConsoleTimeout is how long a console run may take.
func (s *Service) ConsoleTimeout() time.Duration { return s.consoleTimeout }

// consoleGrace is how long a cancelled console query has to stop before
// stile closes its connection (and the server ends the backend).
const consoleGrace = 3 * time.Second

// ConsoleResult is what one statement of a console run returned.
type ConsoleResult struct {
	Columns   []string   `json:"columns"`
	Rows      [][]string `json:"rows"`
	Nulls     [][]bool   `json:"-"`
	Truncated bool       `json:"truncated"`
	Command   string     `json:"command"`
}

// ConsoleRun runs sql as resource role name for p, from the web console.
// The connection is opened and relayed exactly as the PostgreSQL
// listener's (Connect, then proxy.Pipe with the role's masking and
// guardrails), so the console sees what any client would; the run is a
// connect session with its SQL.
//
// A run ends by o.Timeout. When it is cut short (ctx cancelled, or the
// time limit) the query is cancelled on the server, and the connection is
// closed if the query has not stopped within a few seconds. COPY FROM
// STDIN is refused (the console has no data to send). Errors are
// errs.Invalid for the database's refusals, a cancelled run and the time
// limit, and Connect's.
func (s *Service) ConsoleRun(ctx context.Context, p Principal, name, database, sql string, o ConsoleOptions) (out []ConsoleResult, err error) {
	if strings.TrimSpace(sql) == "" {
		return nil, errs.Invalidf("no SQL to run")
	}
	o.MaxRows = cmp.Or(max(o.MaxRows, 0), DefaultConsoleRows)
	o.Timeout = cmp.Or(max(o.Timeout, 0), s.consoleTimeout, DefaultConsoleTimeout)
	c, err := s.Connect(ctx, p, name, database)
	if err != nil {
		return nil, err
	}
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Finish(context.WithoutCancel(ctx), c, proxy.Pipe(server, c.Upstream, c.Mask))
	}()
	defer func() { <-done }()
	// stile closing the connection (access taken away, or a query that
	// would not stop) ends the relay, and so the run.
	stopClosing := context.AfterFunc(c.Ctx, func() { c.Upstream.Close(); server.Close() })
	defer stopClosing()

	runCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	finished := make(chan struct{})
	stopAbort := context.AfterFunc(runCtx, func() { s.consoleAbort(c, finished) })
	defer stopAbort()
	defer close(finished)

	cfg, _ := pgconn.ParseConfig("host=stile-console")
	// consoleAbort does the cancelling; pgconn's handler only waits.
	cfg.BuildContextWatcherHandler = func(*pgconn.PgConn) ctxwatch.Handler { return consoleWatch{} }
	conn := &copyInRefuser{Conn: client}
	pc, err := pgconn.Construct(&pgconn.HijackedConn{Conn: conn, PID: c.Hello.PID, ParameterStatuses: c.Hello.Parameters, TxStatus: 'I', Config: cfg})
	if err != nil {
		client.Close()
		return nil, err
	}
	defer func() {
		// Terminate, unless the relay is stuck: then the pipe just closes.
		conn.SetDeadline(time.Now().Add(consoleGrace))
		pc.Close(context.Background())
	}()
	defer func() {
		if err != nil {
			err = consoleError(err, ctx, runCtx, o.Timeout, conn.refused.Load())
		}
	}()
	if o.ReadOnly {
		if _, err := pc.Exec(runCtx, "BEGIN TRANSACTION READ ONLY").ReadAll(); err != nil {
			return nil, err
		}
		// In a closure: a deferred pc.Exec(…).ReadAll() would send the
		// ROLLBACK at once, and the SQL would find the connection busy.
		defer func() {
			conn.SetDeadline(time.Now().Add(consoleGrace))
			pc.Exec(context.Background(), "ROLLBACK").ReadAll()
		}()
	}
	return readConsole(pc.Exec(runCtx, sql), o)
}

// readConsole reads a run's results, keeping MaxRows of each.
func readConsole(mrr *pgconn.MultiResultReader, o ConsoleOptions) ([]ConsoleResult, error) {
	var out []ConsoleResult
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		var res ConsoleResult
		for _, f := range rr.FieldDescriptions() {
			res.Columns = append(res.Columns, f.Name)
		}
		for rr.NextRow() {
			if len(res.Rows) == o.MaxRows {
				res.Truncated = true
				continue
			}
			vals := rr.Values()
			row, nulls := make([]string, len(vals)), make([]bool, len(vals))
			for i, v := range vals {
				row[i], nulls[i] = string(v), v == nil
			}
			res.Rows, res.Nulls = append(res.Rows, row), append(res.Nulls, nulls)
		}
		tag, err := rr.Close()
		if err != nil {
			mrr.Close()
			return out, err
		}
		res.Command = tag.String()
		out = append(out, res)
	}
	return out, mrr.Close()
}

// consoleError is the database's (or the guardrails') refusal in words,
// or why the run was cut short.
func consoleError(err error, ctx, runCtx context.Context, limit time.Duration, copyIn bool) error {
	switch {
	case ctx.Err() != nil:
		return errs.New(errs.Invalid, "cancelled")
	case runCtx.Err() != nil:
		return errs.New(errs.Invalid, "the console's time limit of %s ran out: the query was cancelled", limit)
	case copyIn:
		return errs.New(errs.Invalid, "COPY FROM STDIN is refused: the console has no data to send (use psql through stile connect or the PostgreSQL listener)")
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return errs.New(errs.Invalid, "%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	return err
}

// consoleAbort cancels c's query on the server and, if the run has not
// finished within consoleGrace, closes the connection: a query that
// ignores the cancel (or waits on the client, as COPY FROM STDIN does)
// must not keep its backend and locks.
func (s *Service) consoleAbort(c *Connection, finished <-chan struct{}) {
	if c.Cancel != nil {
		ctx, cancel := context.WithTimeout(context.Background(), consoleGrace)
		if err := c.Cancel(ctx); err != nil {
			s.log.Warn("cancel a console query", "role", c.sess.Role, "err", err)
		}
		cancel()
	}
	t := time.NewTimer(consoleGrace)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		s.log.Info("console query closed", "role", c.sess.Role, "user", c.user)
		s.conns.close(c, "a console query did not stop when cancelled")
	}
}

// consoleWatch leaves a cut-short run to consoleAbort: pgconn keeps reading
// until the server answers the cancel or the connection closes.
type consoleWatch struct{}

func (consoleWatch) HandleCancel(context.Context) {}
func (consoleWatch) HandleUnwatchAfterCancel()    {}

// copyInRefuser watches the server's messages to the console's pgconn and
// answers a CopyInResponse (or CopyBothResponse) with CopyFail: pgconn
// would wait forever for the rows the console has no way to send, and the
// server with it, holding the table's lock. Deciding on the protocol, not
// the SQL text, catches every spelling.
type copyInRefuser struct {
	net.Conn
	hdr     [5]byte
	nhdr    int
	left    int
	refused atomic.Bool
}

func (r *copyInRefuser) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	for b := p[:n]; len(b) > 0; {
		if r.left > 0 {
			k := min(r.left, len(b))
			r.left, b = r.left-k, b[k:]
			continue
		}
		k := copy(r.hdr[r.nhdr:], b)
		r.nhdr, b = r.nhdr+k, b[k:]
		if r.nhdr < len(r.hdr) {
			break
		}
		r.nhdr, r.left = 0, int(binary.BigEndian.Uint32(r.hdr[1:]))-4
		if t := r.hdr[0]; t == 'G' || t == 'W' {
			r.refused.Store(true)
			msg, _ := (&pgproto3.CopyFail{Message: "the stile console has no data to send"}).Encode(nil)
			r.Conn.Write(msg) // a failed write ends the read that follows
		}
	}
	return n, err
}

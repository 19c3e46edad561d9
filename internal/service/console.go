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
	"unicode/utf8"

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
	// MaxBytes caps the bytes kept of all the results of a run, counting
	// each value and a little for its cell (DefaultConsoleBytes when zero).
	MaxBytes int
	// MaxValue caps the bytes kept of one value: a longer one is cut and
	// ends in "…" (DefaultConsoleValue when zero).
	MaxValue int
	// Timeout bounds the run (the service's ConsoleTimeout when zero).
	Timeout time.Duration
}

// The console's limits: rows of a result, bytes of a run's results and of
// one value, and how long a run may take.
const (
	DefaultConsoleRows    = 1000
	DefaultConsoleBytes   = 4_000_000
	DefaultConsoleValue   = 64_000
	DefaultConsoleTimeout = 5 * time.Minute
)

// ConsoleTimeout is how long a console run may take.
func (s *Connections) ConsoleTimeout() time.Duration { return s.consoleTimeout }

// consoleGrace is how long a cancelled console query has to stop before
// stile closes its connection (and the server ends the backend).
const consoleGrace = 3 * time.Second

// cellBytes is what each value counts for its cell, beyond its own bytes.
const cellBytes = 16

// ConsoleResult is what one statement of a console run returned.
type ConsoleResult struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	Nulls   [][]bool   `json:"-"`
	// Truncated says rows were left out, TruncatedBy which limit did it:
	// "rows" (MaxRows) or "bytes" (MaxBytes).
	Truncated   bool   `json:"truncated"`
	TruncatedBy string `json:"truncated_by,omitempty"`
	// Cut counts the values cut to MaxValue bytes.
	Cut     int    `json:"cut,omitempty"`
	Command string `json:"command"`
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
func (s *Connections) ConsoleRun(ctx context.Context, p Principal, name, database, sql string, o ConsoleOptions) (out []ConsoleResult, err error) {
	if strings.TrimSpace(sql) == "" {
		return nil, errs.Invalidf("no SQL to run")
	}
	o.MaxRows = cmp.Or(max(o.MaxRows, 0), DefaultConsoleRows)
	o.MaxBytes = cmp.Or(max(o.MaxBytes, 0), DefaultConsoleBytes)
	o.MaxValue = cmp.Or(max(o.MaxValue, 0), DefaultConsoleValue)
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

// readConsole reads a run's results, keeping what o allows: MaxRows of
// each, MaxValue of each value, and MaxBytes in all. The run's first row
// is kept whatever its size, its values cut to fit.
func readConsole(mrr *pgconn.MultiResultReader, o ConsoleOptions) ([]ConsoleResult, error) {
	var out []ConsoleResult
	budget, kept := o.MaxBytes, 0
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		var res ConsoleResult
		for _, f := range rr.FieldDescriptions() {
			res.Columns = append(res.Columns, f.Name)
		}
		for rr.NextRow() {
			if res.Truncated {
				continue
			}
			if len(res.Rows) == o.MaxRows {
				res.Truncated, res.TruncatedBy = true, "rows"
				continue
			}
			vals := rr.Values()
			row, nulls, size := make([]string, len(vals)), make([]bool, len(vals)), 0
			for i, v := range vals {
				limit := o.MaxValue
				if kept == 0 {
					limit = min(limit, max(budget-size-cellBytes, 0))
				}
				if len(v) > limit {
					v = append(cutUTF8(v, limit), "…"...)
					res.Cut++
				}
				row[i], nulls[i] = string(v), v == nil
				size += len(v) + cellBytes
			}
			if size > budget && kept > 0 {
				res.Truncated, res.TruncatedBy = true, "bytes"
				continue
			}
			budget, kept = budget-size, kept+1
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

// cutUTF8 returns at most n bytes of b, not splitting a character.
func cutUTF8(b []byte, n int) []byte {
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n:n]
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
func (s *Connections) consoleAbort(c *Connection, finished <-chan struct{}) {
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

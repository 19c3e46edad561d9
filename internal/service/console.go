package service

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

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
}

// DefaultConsoleRows is how many rows of a result the console keeps.
const DefaultConsoleRows = 1000

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
// connect session with its SQL. Cancelling ctx cancels the query on the
// server.
func (s *Service) ConsoleRun(ctx context.Context, p Principal, name, database, sql string, o ConsoleOptions) ([]ConsoleResult, error) {
	if strings.TrimSpace(sql) == "" {
		return nil, errs.Invalidf("no SQL to run")
	}
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
	cfg, _ := pgconn.ParseConfig("host=stile-console")
	cfg.BuildContextWatcherHandler = func(*pgconn.PgConn) ctxwatch.Handler { return consoleCancel{c} }
	pc, err := pgconn.Construct(&pgconn.HijackedConn{Conn: client, PID: c.Hello.PID, ParameterStatuses: c.Hello.Parameters, TxStatus: 'I', Config: cfg})
	if err != nil {
		client.Close()
		<-done
		return nil, err
	}
	defer func() {
		pc.Close(context.WithoutCancel(ctx))
		<-done
	}()
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultConsoleRows
	}
	if o.ReadOnly {
		if _, err := pc.Exec(ctx, "BEGIN TRANSACTION READ ONLY").ReadAll(); err != nil {
			return nil, consoleError(err)
		}
		// In a closure: a deferred pc.Exec(…).ReadAll() would send the
		// ROLLBACK at once, and the SQL would find the connection busy.
		defer func() { pc.Exec(context.WithoutCancel(ctx), "ROLLBACK").ReadAll() }()
	}
	var out []ConsoleResult
	mrr := pc.Exec(ctx, sql)
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
			return out, consoleError(err)
		}
		res.Command = tag.String()
		out = append(out, res)
	}
	if err := mrr.Close(); err != nil {
		return out, consoleError(err)
	}
	return out, nil
}

// consoleError is the database's (or the guardrails') refusal in words.
func consoleError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return errs.New(errs.Invalid, "%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	if errors.Is(err, context.Canceled) {
		return errs.New(errs.Invalid, "cancelled")
	}
	return err
}

// consoleCancel cancels the console's query on the real server when its
// request ends (Cancel, or the browser going away).
type consoleCancel struct{ c *Connection }

func (h consoleCancel) HandleCancel(context.Context) {
	if h.c.Cancel != nil {
		go h.c.Cancel(context.Background())
	}
}

func (consoleCancel) HandleUnwatchAfterCancel() {}

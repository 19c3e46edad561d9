package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/mask"
)

// Upstream is an opened server-side connection and how to record its end.
type Upstream struct {
	// Ctx ends when the connection must be closed (its user was disabled).
	Ctx    context.Context
	Conn   net.Conn
	Hello  Hello
	Finish func(Stats)
	// Cancel asks the real server to cancel the running query.
	Cancel func(ctx context.Context) error
	// KeyData is the secret key to give the client in BackendKeyData
	// (nil: the listener makes one up).
	KeyData []byte
	// Mask, when set, masks the results (the role has masking rules).
	Mask *mask.Filter
}

// Opener authenticates a client (user is the resource role's name, password
// what it sent) and opens the upstream connection as that role.
type Opener func(ctx context.Context, user, password, database string) (*Upstream, error)

// Listener is the server's own PostgreSQL endpoint: clients authenticate
// with a token as the password and a resource role as the user name, and
// stile connects upstream with the role's injected credentials.
type Listener struct {
	TLS  *tls.Config // nil: no TLS, and only loopback clients are served
	Open Opener
	// CancelElsewhere passes on a CancelRequest for a connection this
	// listener does not hold (another replica's); nil drops it.
	CancelElsewhere func(ctx context.Context, pid uint32, key []byte) error
	Log             *slog.Logger

	cancels cancels
}

// Serve accepts clients on ln until ctx ends.
func (l *Listener) Serve(ctx context.Context, ln net.Listener) error {
	if l.Log == nil {
		l.Log = slog.New(slog.DiscardHandler)
	}
	return acceptLoop(ctx, ln, l.Log, l.serve)
}

// peerKey is the context key of a listener client's address (Peer).
type peerKey struct{}

// Peer is the address of the client whose sign-in ctx is for, when a
// Listener called Open with it.
func Peer(ctx context.Context) string {
	s, _ := ctx.Value(peerKey{}).(string)
	return s
}

func (l *Listener) serve(ctx context.Context, c net.Conn) error {
	defer func() { c.Close() }()
	ctx = context.WithValue(ctx, peerKey{}, c.RemoteAddr().String())
	var conn net.Conn = c
	be := pgproto3.NewBackend(conn, conn)
	var startup *pgproto3.StartupMessage
	secure := false
	for startup == nil {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return fmt.Errorf("startup: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if l.TLS == nil || secure {
				conn.Write([]byte{'N'})
				continue
			}
			conn.Write([]byte{'S'})
			tc := tls.Server(c, l.TLS)
			if err := tc.HandshakeContext(ctx); err != nil {
				return fmt.Errorf("TLS: %w", err)
			}
			conn, secure = tc, true
			defer tc.Close()
			be = pgproto3.NewBackend(conn, conn)
		case *pgproto3.GSSEncRequest:
			conn.Write([]byte{'N'})
		case *pgproto3.StartupMessage:
			startup = m
		case *pgproto3.CancelRequest:
			// A cancel names the key data this listener gave out; pass it
			// on to the real server with the real key. Behind a load
			// balancer it may reach a replica that holds no such
			// connection, which looks it up in the store.
			err := l.cancels.cancel(ctx, m)
			if errors.Is(err, errUnknownCancel) && l.CancelElsewhere != nil {
				err = l.CancelElsewhere(ctx, m.ProcessID, m.SecretKey)
			}
			return err
		default:
			return fmt.Errorf("unexpected startup message %T", msg)
		}
	}
	if !secure {
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return fatal(be, "28000", "stile accepts only TLS connections from other hosts (sslmode=require)")
		}
	}
	be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if err := be.Flush(); err != nil {
		return err
	}
	if err := be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
		return err
	}
	msg, err := be.Receive()
	if err != nil {
		return fmt.Errorf("password: %w", err)
	}
	pm, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return fatal(be, "08P01", "expected a password message")
	}
	up, err := l.Open(ctx, startup.Parameters["user"], pm.Password, startup.Parameters["database"])
	if err != nil {
		code := "08006"
		if errors.Is(err, ErrAuth) {
			code = "28P01"
		}
		return fatal(be, code, errs.Public(l.Log, err, "user", startup.Parameters["user"]))
	}
	be.Send(&pgproto3.AuthenticationOk{})
	for k, v := range up.Hello.Parameters {
		be.Send(&pgproto3.ParameterStatus{Name: k, Value: v})
	}
	key, release := l.cancels.issue(up.Hello.PID, up.KeyData, up.Cancel)
	defer release()
	be.Send(&pgproto3.BackendKeyData{ProcessID: up.Hello.PID, SecretKey: key})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		up.Conn.Close()
		return err
	}
	if up.Ctx != nil {
		stop := context.AfterFunc(up.Ctx, func() { conn.Close(); up.Conn.Close() })
		defer stop()
	}
	up.Finish(Pipe(conn, up.Conn, up.Mask))
	return nil
}

// SendCancel sends a CancelRequest for (pid, secret) to the server at addr,
// as PostgreSQL clients do: on a fresh connection, answered by closing it.
func SendCancel(ctx context.Context, addr string, pid uint32, secret []byte) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	defer c.Close()
	buf, err := (&pgproto3.CancelRequest{ProcessID: pid, SecretKey: secret}).Encode(nil)
	if err != nil {
		return err
	}
	if _, err := c.Write(buf); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	io.Copy(io.Discard, c) // the server closes when done
	return nil
}

// ErrAuth marks a refused password, answered with SQLSTATE 28P01.
var ErrAuth = errs.New(errs.Unauthorized, "password authentication failed")

// Pipe copies both ways until either side ends, recording the client's SQL
// and, with a filter, masking the results and refusing what the guardrails
// refuse: the listener's relay, and the web console's.
//
// Both ways read into a buffer and write it out, never splice(2), which
// costs more than a copy for messages of protocol size: with no filter,
// what the listener spends per statement is what a bare io.Copy hop spends
// or less (BenchmarkRelay, make bench-connect).
func Pipe(client, upstream net.Conn, filter *mask.Filter) Stats {
	var in, out int64 // each written by one copy, read after both end
	rec := &recorder{}
	tap := &frontendTap{f: filter}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				in += int64(n)
				rec.feed(buf[:n])
				send := buf[:n]
				if filter != nil {
					send = tap.feed(send)
				}
				if _, werr := upstream.Write(send); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		upstream.Close()
	}()
	go func() {
		defer wg.Done()
		if filter != nil {
			out = copyBackend(client, upstream, filter)
		} else {
			out, _ = io.CopyBuffer(onlyWriter{client}, onlyReader{upstream}, make([]byte, 32<<10))
		}
		client.Close()
	}()
	wg.Wait()
	st := Stats{BytesIn: in, BytesOut: out, Statements: rec.statements, Executed: rec.executed}
	if filter != nil {
		st.Masked, st.Blocked = filter.Fired(), filter.Blocked()
	}
	return st
}

// onlyWriter hides a net.Conn's ReadFrom, so io.CopyBuffer writes from the
// buffer it is given rather than splice.
type onlyWriter struct{ io.Writer }

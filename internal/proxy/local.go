package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Dialer opens the WebSocket to the stile server for one client connection
// to database (empty: the role's default).
type Dialer func(ctx context.Context, database string) (*websocket.Conn, error)

// Canceler asks the stile server to cancel the query running on the
// connection whose Hello carried token.
type Canceler func(ctx context.Context, token string) error

// Serve accepts PostgreSQL clients on ln until ctx ends. Each client gets
// the server side of the startup (no password asked: stile authenticates
// upstream with the role's injected credentials), then its bytes are relayed
// through dial's WebSocket. A client's CancelRequest goes to cancel.
func Serve(ctx context.Context, ln net.Listener, dial Dialer, cancel Canceler, log *slog.Logger) error {
	l := &local{dial: dial, cancel: cancel}
	return acceptLoop(ctx, ln, log, l.serveClient)
}

// local is one local listener's state.
type local struct {
	dial    Dialer
	cancel  Canceler
	cancels cancels
}

func (l *local) serveClient(ctx context.Context, c net.Conn) error {
	defer c.Close()
	be := pgproto3.NewBackend(c, c)
	var startup *pgproto3.StartupMessage
	for startup == nil {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return fmt.Errorf("startup: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			// The hop to the local listener is loopback; TLS happens upstream.
			if _, err := c.Write([]byte{'N'}); err != nil {
				return err
			}
		case *pgproto3.StartupMessage:
			startup = m
		case *pgproto3.CancelRequest:
			// Answered by closing, as PostgreSQL does, whatever happens.
			return l.cancels.cancel(ctx, m)
		default:
			return fmt.Errorf("unexpected startup message %T", msg)
		}
	}
	ws, err := l.dial(ctx, startup.Parameters["database"])
	if err != nil {
		return fatal(be, "08006", err.Error())
	}
	ws.SetReadLimit(64 << 20)
	defer ws.CloseNow()
	_, data, err := ws.Read(ctx)
	if err != nil {
		return fatal(be, "08006", "stile server: "+err.Error())
	}
	var h Hello
	if err := json.Unmarshal(data, &h); err != nil || h.Error != "" {
		msg := h.Error
		if msg == "" {
			msg = "stile server sent no greeting"
		}
		return fatal(be, "08006", msg)
	}
	be.Send(&pgproto3.AuthenticationOk{})
	for k, v := range h.Parameters {
		be.Send(&pgproto3.ParameterStatus{Name: k, Value: v})
	}
	var cancelQuery func(context.Context) error
	if h.CancelToken != "" {
		cancelQuery = func(ctx context.Context) error { return l.cancel(ctx, h.CancelToken) }
	}
	key, release := l.cancels.issue(h.PID, nil, cancelQuery)
	defer release()
	be.Send(&pgproto3.BackendKeyData{ProcessID: h.PID, SecretKey: key})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		return err
	}
	// Either copy ending, or ctx, closes both sides, which ends the other.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(rctx, func() { ws.CloseNow(); c.Close() })
	defer stop()
	go func() {
		defer cancel()
		copyToWS(ws, c)
	}()
	copyFromWS(c, ws, make([]byte, 32<<10), nil)
	return nil
}

// fatal answers the client with a FATAL ErrorResponse, as a server would.
func fatal(be *pgproto3.Backend, code, msg string) error {
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg})
	be.Flush()
	return errors.New(msg)
}

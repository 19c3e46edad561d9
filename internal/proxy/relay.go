// Package proxy carries PostgreSQL connections through stile: the CLI's
// local listener and the server's PostgreSQL listener (TLS, sign-in through
// the Open it is given) speak the server side of the protocol to the client,
// the stile server or a remote agent opens the real connection with the
// resource role's injected credentials, and raw protocol bytes flow between
// them (Relay, over a WebSocket; a remote agent's stream meets its waiting
// connection at a Rendezvous), recorded and cancellable. Nobody on the
// client side sees the password.
package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/stile-dev/stile/internal/mask"
)

// Hello is the server's first WebSocket message: what the client needs to
// finish its startup as if it had authenticated itself.
type Hello struct {
	Parameters map[string]string `json:"parameters"`
	PID        uint32            `json:"pid"`
	// CancelToken names the connection to POST /api/v1/connections/cancel,
	// which cancels its running query (a client's CancelRequest).
	CancelToken string `json:"cancel_token,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Stats is what a relayed connection did.
type Stats struct {
	BytesIn, BytesOut int64
	// Statements are the SQL the client sent (at most maxStatements, each
	// cut to maxStatementLen); Executed counts every statement it ran
	// (each simple Query and each extended-protocol Execute).
	Statements []string
	Executed   int64
	// Masked counts the values each masking rule masked (never the
	// values).
	Masked map[string]int
	// Blocked are the statements guardrails refused, with why.
	Blocked []string
}

// maxStatements and maxStatementLen bound what a session records.
const (
	maxStatements   = 1000
	maxStatementLen = 4096
)

// Relay copies protocol bytes between ws (the client side) and upstream
// until either ends, recording the SQL the client sends (simple and
// extended protocol). It returns what it saw.
func Relay(ctx context.Context, ws *websocket.Conn, upstream net.Conn, filter *mask.Filter) Stats {
	var st Stats
	var in, out atomic.Int64
	rec := &recorder{}
	tap := &frontendTap{f: filter}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	// Each message is read and written with no context of its own (one
	// would register and remove a callback per message): ending ctx closes
	// the connections, which ends both copies.
	go func() { // client -> upstream
		defer wg.Done()
		defer cancel()
		n, _ := copyFromWS(upstream, ws, make([]byte, 32<<10), func(data []byte) []byte {
			rec.feed(data)
			if filter != nil {
				data = tap.feed(data)
			}
			return data
		})
		in.Add(n)
	}()
	go func() { // upstream -> client
		defer wg.Done()
		defer cancel()
		if filter != nil {
			out.Add(copyBackend(wsWriter{ws}, upstream, filter))
			return
		}
		n, _ := copyToWS(ws, upstream)
		out.Add(n)
	}()
	<-ctx.Done()
	upstream.Close()
	ws.Close(websocket.StatusNormalClosure, "")
	wg.Wait()
	st.BytesIn, st.BytesOut, st.Statements, st.Executed = in.Load(), out.Load(), rec.statements, rec.executed
	if filter != nil {
		st.Masked, st.Blocked = filter.Fired(), filter.Blocked()
	}
	return st
}

// wsWriter writes each Write as one binary WebSocket message.
type wsWriter struct{ ws *websocket.Conn }

func (w wsWriter) Write(p []byte) (int, error) {
	if err := w.ws.Write(context.Background(), websocket.MessageBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// copyToWS copies r to ws, each read as one binary message, until either
// fails; it returns the bytes copied. The caller closes ws to stop it.
func copyToWS(ws *websocket.Conn, r io.Reader) (int64, error) {
	return io.CopyBuffer(wsWriter{ws}, onlyReader{r}, make([]byte, 32<<10))
}

// onlyReader hides a net.Conn's WriteTo, so io.CopyBuffer reads into the
// buffer it is given.
type onlyReader struct{ io.Reader }

// copyFromWS copies the binary messages of ws to w as one byte stream,
// through buf (a message larger than buf is written in parts), passing each
// part through feed when it is set, until either side fails; it returns the
// bytes read. No context is set per message: the caller closes ws to stop
// it.
func copyFromWS(w io.Writer, ws *websocket.Conn, buf []byte, feed func([]byte) []byte) (int64, error) {
	var n int64
	for {
		_, r, err := ws.Reader(context.Background())
		if err != nil {
			return n, err
		}
		for {
			k, err := r.Read(buf)
			if k > 0 {
				n += int64(k)
				data := buf[:k]
				if feed != nil {
					data = feed(data)
				}
				if _, werr := w.Write(data); werr != nil {
					return n, werr
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return n, err
			}
		}
	}
}

// SendHello writes the server's first message.
func SendHello(ctx context.Context, ws *websocket.Conn, h Hello) error {
	data, _ := json.Marshal(h)
	return ws.Write(ctx, websocket.MessageText, data)
}

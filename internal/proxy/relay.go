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
	"encoding/binary"
	"encoding/json"
	"fmt"
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

// recorder parses the frontend message stream for Query ('Q'), Parse
// ('P') and fastpath FunctionCall ('F') messages; it never blocks or alters the stream, and keeps at most
// the start of each statement, so a huge message is never held in memory.
type recorder struct {
	hdr  []byte // the current message's type and length, as they arrive
	body []byte // the start of a Query or Parse body
	left int    // body bytes of the current message still to come
	// stopped is set on a stream that is not the protocol: nothing after
	// it can be trusted to start on a message boundary.
	stopped    bool
	statements []string
	executed   int64
}

// keepBytes is how much of a Query or Parse body is kept: a Parse starts
// with its statement name (at most 63 bytes).
const keepBytes = maxStatementLen + 128

func (r *recorder) feed(data []byte) {
	for len(data) > 0 && !r.stopped {
		if len(r.hdr) < 5 {
			n := min(5-len(r.hdr), len(data))
			r.hdr, data = append(r.hdr, data[:n]...), data[n:]
			if len(r.hdr) < 5 {
				return
			}
			size := int(binary.BigEndian.Uint32(r.hdr[1:5]))
			if size < 4 || size > 1<<30 {
				r.stopped, r.hdr, r.body = true, nil, nil
				return
			}
			r.left, r.body = size-4, r.body[:0]
		}
		n := min(r.left, len(data))
		if t := r.hdr[0]; (t == 'Q' || t == 'P' || t == 'F') && len(r.body) < keepBytes {
			r.body = append(r.body, data[:min(n, keepBytes-len(r.body))]...)
		}
		r.left, data = r.left-n, data[n:]
		if r.left == 0 {
			r.message()
		}
	}
}

// message records the message just completed and gets ready for the next.
func (r *recorder) message() {
	switch r.hdr[0] {
	case 'Q':
		r.executed++
		r.add(cstring(r.body))
	case 'E':
		r.executed++
	case 'P':
		if i := indexNUL(r.body); i >= 0 {
			r.add(cstring(r.body[i+1:]))
		}
	case 'F':
		// A fastpath function call (psql's \lo_export, libpq's PQfn):
		// recorded by the function's OID, which is all it names.
		r.executed++
		if len(r.body) >= 4 {
			r.add(fmt.Sprintf("fastpath function call (function oid %d)", binary.BigEndian.Uint32(r.body)))
		}
	}
	r.hdr = r.hdr[:0]
}

func (r *recorder) add(sql string) {
	if len(r.statements) >= maxStatements {
		return
	}
	if len(sql) > maxStatementLen {
		sql = sql[:maxStatementLen] + "…"
	}
	r.statements = append(r.statements, sql)
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

func cstring(b []byte) string {
	if i := indexNUL(b); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// SendHello writes the server's first message.
func SendHello(ctx context.Context, ws *websocket.Conn, h Hello) error {
	data, _ := json.Marshal(h)
	return ws.Write(ctx, websocket.MessageText, data)
}

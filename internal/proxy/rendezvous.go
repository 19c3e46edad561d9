package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Rendezvous pairs the streams remote agents dial in (a WebSocket each,
// opened with SendHello and relayed with Relay on the agent's side) with the
// connections waiting for them on this server. The zero value is ready.
type Rendezvous struct {
	mu      sync.Mutex
	waiting map[string]*waiter
}

// waiter is a connection waiting for its stream: only agent may answer, and
// gone closes when the waiter gives up, so a late stream is dropped instead
// of held forever.
type waiter struct {
	agent string
	ch    chan arrival
	gone  chan struct{}
}

type arrival struct {
	conn  net.Conn
	hello Hello
}

// ErrNoWaiter is Accept's answer to a stream nobody waits for.
var ErrNoWaiter = errors.New("no connection waits for this stream")

// Expect registers a wait for stream id from agent. wait blocks until the
// stream arrives (its connection and the server's startup parameters),
// timeout passes or ctx ends; done must be called when the caller stops
// waiting.
func (r *Rendezvous) Expect(id, agent string) (wait func(ctx context.Context, timeout time.Duration) (net.Conn, Hello, error), done func()) {
	w := &waiter{agent: agent, ch: make(chan arrival), gone: make(chan struct{})}
	r.mu.Lock()
	if r.waiting == nil {
		r.waiting = map[string]*waiter{}
	}
	r.waiting[id] = w
	r.mu.Unlock()
	wait = func(ctx context.Context, timeout time.Duration) (net.Conn, Hello, error) {
		select {
		case a := <-w.ch:
			return a.conn, a.hello, nil
		case <-time.After(timeout):
			return nil, Hello{}, context.DeadlineExceeded
		case <-ctx.Done():
			return nil, Hello{}, ctx.Err()
		}
	}
	var once sync.Once
	done = func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.waiting, id)
			r.mu.Unlock()
			close(w.gone)
		})
	}
	return wait, done
}

// Accept takes agent's stream id on this HTTP request: it upgrades it to a
// WebSocket, reads the hello within helloTimeout, hands the stream to its
// waiter and holds the request until the relay closes the stream. A stream
// nobody waits for (or that another agent's waits for) is ErrNoWaiter,
// answered with 404 before any upgrade.
func (r *Rendezvous) Accept(w http.ResponseWriter, req *http.Request, id, agent string, helloTimeout time.Duration) error {
	r.mu.Lock()
	wt := r.waiting[id]
	if wt != nil && wt.agent == agent {
		delete(r.waiting, id)
	} else {
		wt = nil
	}
	r.mu.Unlock()
	if wt == nil {
		http.Error(w, ErrNoWaiter.Error(), http.StatusNotFound)
		return ErrNoWaiter
	}
	ws, err := websocket.Accept(w, req, nil)
	if err != nil {
		return err
	}
	ws.SetReadLimit(64 << 20)
	ctx := context.WithoutCancel(req.Context())
	hctx, cancel := context.WithTimeout(ctx, helloTimeout)
	_, data, err := ws.Read(hctx)
	cancel()
	var hello Hello
	if err == nil {
		err = json.Unmarshal(data, &hello)
	}
	if err != nil {
		ws.CloseNow()
		return err
	}
	sc := &streamConn{Conn: websocket.NetConn(ctx, ws, websocket.MessageBinary), done: make(chan struct{})}
	select {
	case wt.ch <- arrival{conn: sc, hello: hello}:
	case <-wt.gone:
		sc.Close()
		return nil
	}
	<-sc.done
	return nil
}

// streamConn is an agent's stream seen as a net.Conn; closing it releases
// the request that holds the WebSocket.
type streamConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

func (c *streamConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Conn.Close()
}

package proxy

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"
)

// cancelKey is the key data (BackendKeyData) stile made up for a client.
type cancelKey struct {
	pid    uint32
	secret string
}

// cancels maps the key data handed to clients to what cancels their query
// upstream: clients never see a real server's key.
type cancels struct {
	mu sync.Mutex
	m  map[cancelKey]func(context.Context) error
}

// issue registers key data for a connection to backend pid, made up here
// when key is nil, until release; with a nil cancel there is nothing to
// register.
func (c *cancels) issue(pid uint32, key []byte, cancel func(context.Context) error) ([]byte, func()) {
	if key == nil {
		key = make([]byte, 4)
		rand.Read(key)
	}
	if cancel == nil {
		return key, func() {}
	}
	k := cancelKey{pid, string(key)}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[cancelKey]func(context.Context) error{}
	}
	c.m[k] = cancel
	c.mu.Unlock()
	return key, func() {
		c.mu.Lock()
		delete(c.m, k)
		c.mu.Unlock()
	}
}

// errUnknownCancel is a CancelRequest for key data this process did not
// give out.
var errUnknownCancel = errors.New("cancel request for an unknown connection")

// cancel passes a client's CancelRequest on.
func (c *cancels) cancel(ctx context.Context, m *pgproto3.CancelRequest) error {
	c.mu.Lock()
	f := c.m[cancelKey{m.ProcessID, string(m.SecretKey)}]
	c.mu.Unlock()
	if f == nil {
		return errUnknownCancel
	}
	return f(ctx)
}

// acceptLoop serves each client of ln on its own goroutine until ctx ends.
func acceptLoop(ctx context.Context, ln net.Listener, log *slog.Logger, serve func(context.Context, net.Conn) error) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			if err := serve(ctx, c); err != nil {
				log.Info("client connection", "remote", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

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

// issue makes up key data for a connection to backend pid and, when
// cancel is not nil, registers it until release.
func (c *cancels) issue(pid uint32, cancel func(context.Context) error) (key []byte, release func()) {
	var b [4]byte
	rand.Read(b[:])
	if cancel == nil {
		return b[:], func() {}
	}
	k := cancelKey{pid, string(b[:])}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[cancelKey]func(context.Context) error{}
	}
	c.m[k] = cancel
	c.mu.Unlock()
	return b[:], func() {
		c.mu.Lock()
		delete(c.m, k)
		c.mu.Unlock()
	}
}

// cancel passes a client's CancelRequest on.
func (c *cancels) cancel(ctx context.Context, m *pgproto3.CancelRequest) error {
	c.mu.Lock()
	f := c.m[cancelKey{m.ProcessID, string(m.SecretKey)}]
	c.mu.Unlock()
	if f == nil {
		return errors.New("cancel request for an unknown connection")
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

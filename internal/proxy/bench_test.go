package proxy

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// pgbenchTraffic is what one pgbench -S transaction sends, per -M mode, as
// one read from the client's socket brings it.
func pgbenchTraffic(b *testing.B, mode string, aid int) []byte {
	b.Helper()
	sql := "SELECT abalance FROM pgbench_accounts WHERE aid = $1;"
	var msgs []pgproto3.FrontendMessage
	switch mode {
	case "simple":
		msgs = []pgproto3.FrontendMessage{&pgproto3.Query{String: fmt.Sprintf("SELECT abalance FROM pgbench_accounts WHERE aid = %d;", aid)}}
	case "extended":
		msgs = []pgproto3.FrontendMessage{&pgproto3.Parse{Query: sql}, &pgproto3.Bind{Parameters: [][]byte{fmt.Append(nil, aid)}},
			&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{}}
	case "prepared":
		msgs = []pgproto3.FrontendMessage{&pgproto3.Bind{PreparedStatement: "P0_1", Parameters: [][]byte{fmt.Append(nil, aid)}},
			&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{}}
	}
	var buf []byte
	for _, m := range msgs {
		var err error
		if buf, err = m.Encode(buf); err != nil {
			b.Fatal(err)
		}
	}
	return buf
}

// BenchmarkRecorder is what the statement recorder costs per pgbench -S
// transaction, in a session long past its first maxStatements statements
// (as pgbench's are after a second).
func BenchmarkRecorder(b *testing.B) {
	for _, mode := range []string{"simple", "extended", "prepared"} {
		b.Run(mode, func(b *testing.B) {
			traffic := make([][]byte, 64)
			for i := range traffic {
				traffic[i] = pgbenchTraffic(b, mode, 1000+i)
			}
			r := &recorder{}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				r.feed(traffic[i%len(traffic)])
			}
		})
	}
}

// fakeBackend answers each Sync and each Query with a one-row result and
// ReadyForQuery, as PostgreSQL answers pgbench -S; it returns its address.
func fakeBackend(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	var answer []byte
	for _, m := range []pgproto3.BackendMessage{
		&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("abalance"), DataTypeOID: 23, DataTypeSize: 4, TypeModifier: -1}}},
		&pgproto3.DataRow{Values: [][]byte{[]byte("0")}},
		&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")},
		&pgproto3.ReadyForQuery{TxStatus: 'I'},
	} {
		if answer, err = m.Encode(answer); err != nil {
			b.Fatal(err)
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				hdr := make([]byte, 5)
				body := make([]byte, 0, 1024)
				for {
					if _, err := io.ReadFull(c, hdr); err != nil {
						return
					}
					size := int(binary.BigEndian.Uint32(hdr[1:]))
					body = body[:size-4]
					if _, err := io.ReadFull(c, body); err != nil {
						return
					}
					if hdr[0] == 'Q' || hdr[0] == 'S' {
						if _, err := c.Write(answer); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// relayListener relays each client of a loopback listener to upstream with
// relay; it returns the listener's address.
func relayListener(b *testing.B, upstream string, relay func(client, up net.Conn)) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); relay(c, u) }()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkRelay is the listener's relay (pipe: Pipe, no filter) against a
// bare io.Copy hop (bare: scripts/bareproxy's, which splices between the
// sockets), a bare hop that reads and writes through a buffer instead (rw)
// and no hop at all (direct): 8 clients sending pgbench -S transactions to
// a backend that answers at once, over loopback TCP. Per operation: one
// transaction's round trip. Client, backend and relay share the CPUs, so
// what a relay spends shows as time.
func BenchmarkRelay(b *testing.B) {
	backend := fakeBackend(b)
	bare := func(c, u net.Conn) {
		go func() { io.Copy(u, c); u.Close() }()
		io.Copy(c, u)
		c.Close()
	}
	pipe := func(c, u net.Conn) { Pipe(c, u, nil) }
	rw := func(c, u net.Conn) {
		go func() { io.CopyBuffer(u, onlyReader{c}, make([]byte, 32<<10)); u.Close() }()
		io.CopyBuffer(c, onlyReader{u}, make([]byte, 32<<10))
		c.Close()
	}
	for _, mode := range []string{"simple", "extended", "prepared"} {
		for _, hop := range []struct {
			name  string
			relay func(c, u net.Conn)
		}{{"direct", nil}, {"bare", bare}, {"rw", rw}, {"pipe", pipe}} {
			b.Run(mode+"/"+hop.name, func(b *testing.B) {
				addr := backend
				if hop.relay != nil {
					addr = relayListener(b, backend, hop.relay)
				}
				traffic := pgbenchTraffic(b, mode, 4242)
				b.ReportAllocs()
				b.SetParallelism(4) // 8 clients on 2 cores, as pgbench -c 8
				b.RunParallel(func(pb *testing.PB) {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						b.Error(err)
						return
					}
					defer c.Close()
					buf := make([]byte, 4096)
					for pb.Next() {
						if _, err := c.Write(traffic); err != nil {
							b.Error(err)
							return
						}
						// Read to the ReadyForQuery that ends the answer.
						for n := 0; n == 0 || buf[n-6] != 'Z'; {
							k, err := c.Read(buf[n:])
							if err != nil {
								b.Error(err)
								return
							}
							n += k
						}
					}
				})
			})
		}
	}
}

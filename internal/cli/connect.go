package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/proxy"
)

func newConnectCmd(e *env) *cobra.Command {
	var port int
	var database, socketDir string
	cmd := &cobra.Command{
		Use:   "connect ROLE",
		Short: "Open a local PostgreSQL listener that connects as a resource role, without its password",
		Long: `Listen on 127.0.0.1:PORT; any PostgreSQL client (psql, a GUI, an application) connects there
without a password, and stile opens the real connection as ROLE with the credentials it holds.
The password never reaches this machine. Each connection is a session: who, when, how long,
bytes, and the SQL the client sent. Clients' cancel requests (Ctrl-C in psql) cancel the running
query through the server.

Any local user of this machine can reach a TCP port: on a shared host, use --socket DIR, a
Unix socket only this OS user can open (psql -h DIR -p PORT).`,
		Example: `  stile connect stile_analytics_ro_6075a443 --port 5433 &
  psql -h 127.0.0.1 -p 5433 -d analytics

  stile connect stile_analytics_ro_6075a443 --socket ~/.stile/sock &
  psql -h ~/.stile/sock -p 5433 -d analytics`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			// Say now, not at the first client, that the role is unknown
			// (or not one this user may use: to them it does not exist).
			if err := c.call(cmd.Context(), http.MethodGet, "/api/v1/roles/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			ln, hint, err := listenLocal(socketDir, port)
			if err != nil {
				return err
			}
			defer ln.Close()
			wsBase := "ws" + strings.TrimPrefix(c.base, "http")
			dial := func(ctx context.Context, db string) (*websocket.Conn, error) {
				if db == "" {
					db = database
				}
				q := url.Values{"role": {args[0]}}
				if db != "" {
					q.Set("database", db)
				}
				ws, _, err := websocket.Dial(ctx, wsBase+"/api/v1/connect?"+q.Encode(), &websocket.DialOptions{
					HTTPClient: c.http, HTTPHeader: http.Header{"Authorization": {"Bearer " + c.token}},
				})
				if err != nil {
					return nil, fmt.Errorf("reach stile server: %w", err)
				}
				return ws, nil
			}
			fmt.Fprintf(e.stdout, "connect to %s at %s (for example: %s)\n", args[0], ln.Addr(), hint)
			log := slog.New(slog.NewTextHandler(e.stderr, nil)).With("component", "connect")
			cancel := func(ctx context.Context, token string) error {
				return c.call(ctx, http.MethodPost, "/api/v1/connections/cancel", map[string]string{"cancel_token": token}, nil)
			}
			return proxy.Serve(cmd.Context(), ln, dial, cancel, log)
		},
	}
	cmd.Flags().IntVar(&port, "port", 5433, "local port (0 picks a free one); with --socket, the number in the socket's name")
	cmd.Flags().StringVar(&socketDir, "socket", "", "listen on a Unix socket in this directory (DIR/.s.PGSQL.PORT, as PostgreSQL names it) instead of TCP: only this OS user can connect")
	cmd.Flags().StringVar(&database, "database", "", "database when the client names none (default: the resource's)")
	return cmd
}

// listenLocal opens stile connect's listener: TCP on 127.0.0.1:port, or,
// with dir, the Unix socket dir/.s.PGSQL.port in a directory only this user
// can enter (made 0700 when missing; refused when others can enter it). It
// returns how a client connects.
func listenLocal(dir string, port int) (net.Listener, string, error) {
	if dir == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return nil, "", fmt.Errorf("listen: %w", err)
		}
		return ln, fmt.Sprintf("psql -h 127.0.0.1 -p %d", ln.Addr().(*net.TCPAddr).Port), nil
	}
	if port == 0 {
		return nil, "", usageError{msg: "--socket needs a --port: it is part of the socket's name", try: "--socket " + dir + " --port 5433"}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("socket directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, "", fmt.Errorf("socket directory: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("socket directory %s is open to other users (%v): make it 0700, or name another", dir, fi.Mode().Perm())
	}
	path := filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, "", fmt.Errorf("listen: %s is in use", path)
	}
	os.Remove(path) // a socket left by a process that ended
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, "", fmt.Errorf("listen: %w", err)
	}
	return ln, fmt.Sprintf("psql -h %s -p %d", dir, port), nil
}

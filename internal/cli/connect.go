package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/proxy"
)

func newConnectCmd(e *env) *cobra.Command {
	var port int
	var database string
	cmd := &cobra.Command{
		Use:   "connect ROLE",
		Short: "Open a local PostgreSQL listener that connects as a resource role, without its password",
		Long: `Listen on 127.0.0.1:PORT; any PostgreSQL client (psql, a GUI, an application) connects there
without a password, and stile opens the real connection as ROLE with the credentials it holds.
The password never reaches this machine. Each connection is a session: who, when, how long,
bytes, and the SQL the client sent. Clients' cancel requests (Ctrl-C in psql) cancel the running
query through the server.`,
		Example: `  stile connect stile_analytics_ro_6075a443 --port 5433 &
  psql -h 127.0.0.1 -p 5433 -d analytics`,
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
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
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
			fmt.Fprintf(e.stdout, "connect to %s at %s (for example: psql -h 127.0.0.1 -p %d)\n", args[0], ln.Addr(), ln.Addr().(*net.TCPAddr).Port)
			log := slog.New(slog.NewTextHandler(e.stderr, nil)).With("component", "connect")
			cancel := func(ctx context.Context, token string) error {
				return c.call(ctx, http.MethodPost, "/api/v1/connections/cancel", map[string]string{"cancel_token": token}, nil)
			}
			return proxy.Serve(cmd.Context(), ln, dial, cancel, log)
		},
	}
	cmd.Flags().IntVar(&port, "port", 5433, "local port (0 picks a free one)")
	cmd.Flags().StringVar(&database, "database", "", "database when the client names none (default: the resource's)")
	return cmd
}

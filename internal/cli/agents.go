package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/local"
	"github.com/stile-dev/stile/internal/target"
)

func newAgentsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agents",
		Short: "Register, list and revoke remote agents",
		Example: `  stile agents create eu-west
  stile agents list
  stile agents revoke eu-west`,
	}
	create := &cobra.Command{
		Use:     "create NAME",
		Short:   "Register an agent and print its token (shown once; only its hash is stored)",
		Example: "  stile agents create eu-west",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var out struct{ Name, Token string }
			if err := c.call(cmd.Context(), "POST", "/api/v1/agents", map[string]string{"name": args[0]}, &out); err != nil {
				return err
			}
			// The token alone on stdout; the words for people on stderr.
			fmt.Fprintf(e.stderr, "agent %s created; its token is shown once. Run it next to the databases with:\n  STILE_AGENT_TOKEN=… stile agent --url %s\n", out.Name, c.base)
			_, err = fmt.Fprintln(e.stdout, out.Token)
			return err
		},
	}
	list := dataCmd(e, "list", "List agents: online or not, version, last heartbeat, resources served", "  stile agents list", 0,
		func(c *client, cmd *cobra.Command, _ []string) (any, func(io.Writer) error, error) {
			var out struct {
				Agents []api.AgentView `json:"agents"`
			}
			err := c.call(cmd.Context(), "GET", "/api/v1/agents", nil, &out)
			return out, func(w io.Writer) error {
				tw := table(w)
				fmt.Fprintln(tw, "NAME\tSTATUS\tVERSION\tLAST HEARTBEAT\tRESOURCES")
				for _, a := range out.Agents {
					status := "offline"
					switch {
					case a.Revoked:
						status = "revoked"
					case a.Online:
						status = "online"
					}
					seen := "-"
					if a.Builtin {
						seen = "built in"
					} else if !a.LastSeen.IsZero() {
						seen = a.LastSeen.Format("2006-01-02 15:04:05")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, status, a.Version, seen, strings.Join(a.Resources, ","))
				}
				return tw.Flush()
			}, err
		})
	revoke := &cobra.Command{
		Use:     "revoke NAME",
		Short:   "Revoke an agent's token and disconnect it",
		Example: "  stile agents revoke eu-west",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			if err := c.call(cmd.Context(), "DELETE", "/api/v1/agents/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "agent %s revoked\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func newAgentCmd(e *env) *cobra.Command {
	var url, caFile string
	var adminIdle time.Duration
	var adminIdleMax int
	var configFile string
	var printConfig bool
	cmd := &cobra.Command{
		Use:   "agent --url URL",
		Short: "Run a remote agent next to the databases",
		Long: `Run an agent: it dials the server (over TLS when the URL is https), authenticates with its
token (STILE_AGENT_TOKEN, or --token-file; never on the command line, where process lists
show it), and runs health checks, plans and applies for the resources
it serves, concurrently. It only makes outbound connections and opens no port; it reconnects
with jittered backoff. Admin credentials reach it inside jobs and are never written to disk or
logs.`,
		Example: `  STILE_AGENT_TOKEN=stla_… stile agent --url https://stile.example.com`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := local.Configure(cmd.Flags(), configFile, printConfig, e.getenv, e.stdout); err != nil {
				return errs.Invalidf("%v", err)
			}
			if url == "" {
				url = e.getenv("STILE_URL")
			}
			token, err := tokenFrom(cmd, e, "STILE_AGENT_TOKEN")
			if err != nil {
				return err
			}
			if url == "" || token == "" {
				return errs.Invalidf("the agent needs --url (or STILE_URL) and its token (STILE_AGENT_TOKEN or --token-file)")
			}
			if adminIdle < 0 {
				return errs.Invalidf("--admin-idle must not be negative, not %s", adminIdle)
			}
			if adminIdleMax < 0 {
				return errs.Invalidf("--admin-idle-max must not be negative, not %d", adminIdleMax)
			}
			if printConfig {
				return nil // what it printed would start
			}
			pool := target.NewPool(adminIdle, adminIdleMax)
			defer pool.Close()
			log := slog.New(slog.NewTextHandler(e.stderr, nil)).With("component", "agent")
			if caFile == "" {
				caFile = e.getenv("STILE_CA")
			}
			hc, err := httpClient(caFile)
			if err != nil {
				return err
			}
			return runner.DialWith(cmd.Context(), url, token, hc, runner.Local{Pool: pool}, log)
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "server URL (env STILE_URL)")
	cmd.Flags().StringVar(&caFile, "ca", "", "PEM file of the CA that signed the server's certificate (env STILE_CA)")
	cmd.Flags().DurationVar(&adminIdle, "admin-idle", target.DefaultIdleTimeout, "keep admin connections this long after use for the next job (0: close each after use)")
	cmd.Flags().IntVar(&adminIdleMax, "admin-idle-max", target.DefaultIdleMax, "keep at most this many admin connections idle per cluster (each holds one of its max_connections; 0: none)")
	local.AddConfigFlags(cmd.Flags(), &configFile, &printConfig)
	return cmd
}

// httpClient trusts the system roots plus, if given, the CA in caFile.
func httpClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, errs.Invalidf("read CA file: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errs.Invalidf("CA file %s holds no PEM certificate", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

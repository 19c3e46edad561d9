package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/hub"
	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/audit"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/local"
	"github.com/stile-dev/stile/internal/metrics"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/server"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/target"
)

func newServerCmd(e *env) *cobra.Command {
	var listen, data, prefix, lockDB, storeName, tlsCert, tlsKey, replica, pgListen, auditFile, webhook, advertise, metricsListen, notify string
	var applyTimeout, consoleTimeout, adminIdle, driftEvery, rotateCheck time.Duration
	var applyParallel, signInFailures, adminIdleMax int
	var oidc oidcFlags
	var configFile, keyFile, tokenFile string
	var printConfig bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the stile server: HTTP API, embedded store and the built-in agent",
		Long: `Run the stile server: the HTTP JSON API on --listen, an embedded SQLite store in --data,
and the built-in agent "local", which runs SQL against target databases in-process.

On first start it creates a data key (<data>/secret.key, or STILE_SECRET_KEY) that encrypts
secrets at rest, and an admin API token (<data>/admin.token), and says where it put them.`,
		Example: `  stile server
  stile server --listen 127.0.0.1:9000 --data /var/lib/stile --role-prefix acme`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := local.Configure(cmd.Flags(), configFile, printConfig, e.getenv, e.stdout); err != nil {
				return errs.Invalidf("%v", err)
			}
			data = dataDir(e, cmd, data)
			if v := e.getenv("STILE_LISTEN"); v != "" && !cmd.Flags().Changed("listen") {
				listen = v
			}
			if v := e.getenv("STILE_ROLE_PREFIX"); v != "" && !cmd.Flags().Changed("role-prefix") {
				prefix = v
			}
			if err := noPassword("--store", storeName); err != nil {
				return err
			}
			if v := e.getenv("STILE_STORE"); v != "" && !cmd.Flags().Changed("store") {
				storeName = v
			}
			if v := e.getenv("STILE_REPLICA_ID"); v != "" && !cmd.Flags().Changed("replica-id") {
				replica = v
			}
			if v := e.getenv("STILE_ADVERTISE_URL"); v != "" && !cmd.Flags().Changed("advertise-url") {
				advertise = v
			}
			if replica == "" {
				host, _ := os.Hostname()
				replica = host + "/" + listen
			}
			c := serverConfig{listen: listen, data: data, prefix: prefix, lockDB: lockDB, store: storeName, tlsCert: tlsCert, tlsKey: tlsKey, replica: replica, applyTimeout: applyTimeout, consoleTimeout: consoleTimeout, applyParallel: applyParallel, adminIdle: adminIdle, adminIdleMax: adminIdleMax, driftEvery: driftEvery, rotateCheck: rotateCheck, metricsListen: metricsListen, keyFile: keyFile, tokenFile: tokenFile, pgListen: pgListen, advertise: advertise, signInFailures: signInFailures,
				auditFile: auditFile, webhook: cmp.Or(webhook, e.getenv("STILE_AUDIT_WEBHOOK")), webhookSecret: e.getenv("STILE_AUDIT_WEBHOOK_SECRET")}
			var err error
			if c.oidc, err = oidc.config(e, listen, tlsCert != ""); err != nil {
				return err
			}
			c.publicURL, c.notifyWebhook = oidc.publicURL, cmp.Or(notify, e.getenv("STILE_NOTIFY_WEBHOOK"))
			// Before anything is created: a server that cannot start leaves
			// no data dir or key behind.
			if err := c.Validate(); err != nil {
				return err
			}
			if printConfig {
				return nil // what it printed would start
			}
			return runServer(cmd.Context(), e, c)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8009", "address to listen on (env STILE_LISTEN)")
	cmd.Flags().StringVar(&data, "data", "", "data directory (env STILE_DATA; default $XDG_DATA_HOME/stile)")
	cmd.Flags().StringVar(&prefix, "role-prefix", "stile", "prefix of generated role names, fixed at first use (env STILE_ROLE_PREFIX)")
	cmd.Flags().StringVar(&lockDB, "lock-database", "postgres", "database where applies take each cluster's advisory lock")
	cmd.Flags().StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM); agents then dial wss://")
	cmd.Flags().StringVar(&tlsKey, "tls-key", "", "the certificate's private key (PEM)")
	cmd.Flags().StringVar(&auditFile, "audit-file", "", "append every finished session as a JSON line to this file")
	cmd.Flags().StringVar(&notify, "notify-webhook", "", "POST a Slack-compatible message to this HTTPS URL when an access request is made or decided, with links to the web app (--public-url) (env STILE_NOTIFY_WEBHOOK)")
	cmd.Flags().StringVar(&webhook, "audit-webhook", "", "POST every finished session to this HTTPS URL (env STILE_AUDIT_WEBHOOK; HMAC key in STILE_AUDIT_WEBHOOK_SECRET)")
	oidc.add(cmd)
	cmd.Flags().IntVar(&signInFailures, "alert-sign-in-failures", service.DefaultSignInFailures, "raise a critical alert when this many sign-ins from one address fail within a minute (API, web, PostgreSQL listener; counted per replica; 0: off)")
	cmd.Flags().DurationVar(&driftEvery, "drift-every", 0, "re-plan every declared role this often (e.g. 1h), each resource at its own moment; a role found changed is a drift session and an audit event; nothing is applied (0: off)")
	cmd.Flags().DurationVar(&rotateCheck, "rotate-check-every", time.Minute, "look this often for passwords whose rotation schedule (stile roles rotate --every) is due")
	cmd.Flags().StringVar(&metricsListen, "metrics-listen", "", "also serve /metrics here without a token, for Prometheus (keep it on loopback or a scrape network; /metrics on --listen needs the admin token)")
	cmd.Flags().StringVar(&pgListen, "pg-listen", "", "also serve PostgreSQL here: user = a resource role, password = the API token (TLS; plain only from loopback)")
	cmd.Flags().DurationVar(&applyTimeout, "apply-timeout", service.DefaultApplyTimeout, "an apply (a batch's job on one cluster) running longer is cancelled and fails")
	cmd.Flags().DurationVar(&consoleTimeout, "console-timeout", service.DefaultConsoleTimeout, "a web console run taking longer is cancelled (its connection closed if the query ignores the cancel)")
	cmd.Flags().IntVar(&applyParallel, "apply-parallel", service.DefaultApplyParallel, "how many clusters a batch apply works on at once")
	cmd.Flags().DurationVar(&adminIdle, "admin-idle", target.DefaultIdleTimeout, "keep admin connections this long after use for the next plan or apply (0: close each after use)")
	cmd.Flags().IntVar(&adminIdleMax, "admin-idle-max", target.DefaultIdleMax, "keep at most this many admin connections idle per cluster (each holds one of its max_connections; 0: none)")
	cmd.Flags().StringVar(&replica, "replica-id", "", "this replica's stable name among replicas on one store (env STILE_REPLICA_ID; default host/listen address)")
	cmd.Flags().StringVar(&advertise, "advertise-url", "", "this replica's own URL as agents reach it, so a remote agent connected to another replica can stream connections opened here (env STILE_ADVERTISE_URL)")
	cmd.Flags().StringVar(&storeName, "store", "", "store: empty for SQLite in the data dir, sqlite:PATH, or a postgres:// URL shared by replicas (env STILE_STORE)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "the data key's file (default <data>/secret.key; created when missing; STILE_SECRET_KEY instead of either): keep it apart from the data, which backups copy")
	cmd.Flags().StringVar(&tokenFile, "admin-token-file", "", "the admin API token's file (default <data>/admin.token; created when missing)")
	local.AddConfigFlags(cmd.Flags(), &configFile, &printConfig)
	return cmd
}

// serverConfig is what `stile server` runs with: flag defaults, then the
// STILE_* environment, then the flags given.
type serverConfig struct {
	listen, data, prefix, lockDB, store, tlsCert, tlsKey, replica, pgListen, advertise string
	metricsListen, keyFile, tokenFile                                                  string
	auditFile, webhook, webhookSecret, notifyWebhook, publicURL                        string
	applyTimeout, consoleTimeout, adminIdle, driftEvery, rotateCheck                   time.Duration
	applyParallel, signInFailures, adminIdleMax                                        int
	oidc                                                                               *service.OIDCConfig
}

// Validate checks c as a whole; an error is errs.Invalid naming the flag.
func (c serverConfig) Validate() error {
	for flag, addr := range map[string]string{"--listen": c.listen, "--pg-listen": c.pgListen, "--metrics-listen": c.metricsListen} {
		if addr == "" && flag != "--listen" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return errs.Invalidf("%s %q is not host:port", flag, addr)
		}
	}
	if err := spec.ValidPrefix(c.prefix); err != nil {
		return errs.Invalidf("--role-prefix: %v", err)
	}
	if c.lockDB == "" {
		return errs.Invalidf("--lock-database is empty")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errs.Invalidf("--tls-cert and --tls-key go together")
	}
	if c.applyTimeout <= 0 {
		return errs.Invalidf("--apply-timeout must be positive, not %s", c.applyTimeout)
	}
	if c.consoleTimeout <= 0 {
		return errs.Invalidf("--console-timeout must be positive, not %s", c.consoleTimeout)
	}
	if c.signInFailures < 0 {
		return errs.Invalidf("--alert-sign-in-failures must not be negative (0 turns the alert off), not %d", c.signInFailures)
	}
	if c.driftEvery < 0 {
		return errs.Invalidf("--drift-every must not be negative, not %s", c.driftEvery)
	}
	if c.rotateCheck < time.Second {
		return errs.Invalidf("--rotate-check-every must be at least 1s, not %s", c.rotateCheck)
	}
	if c.adminIdle < 0 {
		return errs.Invalidf("--admin-idle must not be negative, not %s", c.adminIdle)
	}
	if c.adminIdleMax < 0 {
		return errs.Invalidf("--admin-idle-max must not be negative, not %d", c.adminIdleMax)
	}
	if c.applyParallel < 1 {
		return errs.Invalidf("--apply-parallel must be at least 1, not %d", c.applyParallel)
	}
	for flag, v := range map[string]string{"--audit-webhook": c.webhook, "--notify-webhook": c.notifyWebhook, "--public-url": c.publicURL} {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && local.IsLoopback(u.Hostname()))) {
			return errs.Invalidf("%s must be an https:// URL (http only on loopback)", flag)
		}
	}
	if c.advertise != "" {
		if _, err := hub.StreamURL(c.advertise); err != nil {
			return errs.Invalidf("--advertise-url: %v", err)
		}
	}
	return nil
}

func runServer(ctx context.Context, e *env, c serverConfig) error {
	listen, data, prefix, lockDB := c.listen, c.data, c.prefix, c.lockDB
	// The built-in agent's admin connections, kept a while for the next job.
	pool := target.NewPool(c.adminIdle, c.adminIdleMax)
	defer pool.Close()
	log := slog.New(slog.NewTextHandler(e.stderr, nil)).With("component", "server")
	// Bind first: a server that cannot listen (the port taken) leaves no
	// data dir, key or token behind.
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	keyPath := cmp.Or(c.keyFile, filepath.Join(data, "secret.key"))
	key, created, err := secret.LoadOrCreateKey(keyPath, e.getenv("STILE_SECRET_KEY"))
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(e.stderr, "stile: created the data key %s (mode 0600); back it up: without it stored secrets are lost\n", keyPath)
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return err
	}
	tokenPath := cmp.Or(c.tokenFile, filepath.Join(data, "admin.token"))
	token, err := loadOrCreateToken(tokenPath)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c.store, data)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	if err := checkDataKey(ctx, st, key); err != nil {
		return err
	}
	shared := strings.HasPrefix(c.store, "postgres")
	m := metrics.New()
	exporter, err := audit.New(audit.Config{File: c.auditFile, Webhook: c.webhook, WebhookSecret: c.webhookSecret, Log: log.With("component", "audit"), OnGiveUp: m.WebhookError})
	if err != nil {
		return err
	}
	defer exporter.Close()
	agents := hub.New(st, box, shared, c.replica, log.With("component", "agents"))
	if c.advertise != "" {
		if err := agents.Advertise(c.advertise); err != nil {
			return err
		}
	}
	go agents.Run(ctx)
	svc, err := service.New(ctx, service.Config{
		Store: st, Box: box, Agents: []agent.Agent{runner.Local{Pool: pool}}, Hub: agents,
		RolePrefix: prefix, AdminToken: token, LockDatabase: lockDB, Logger: log,
		SharedStore: shared, Replica: c.replica, ApplyTimeout: c.applyTimeout, ConsoleTimeout: c.consoleTimeout, ApplyParallel: c.applyParallel, Audit: exporter, Metrics: m,
		SignInFailures: cmp.Or(c.signInFailures, -1), OIDC: c.oidc,
		NotifyWebhook: c.notifyWebhook, PublicURL: cmp.Or(c.publicURL, scheme(c)+"://"+loopbackIfAny(ln.Addr())),
	})
	if err != nil {
		return err
	}
	if err := svc.Provisioning.Recover(ctx); err != nil {
		log.Error("recovery after restart", "err", err)
	}
	go svc.Provisioning.Sweep(ctx, time.Minute)
	go func() {
		if err := svc.Reporting.CatchUpUsage(ctx); err != nil {
			log.Warn("count the usage of earlier connections", "err", err)
		}
	}()
	if c.driftEvery > 0 {
		go svc.Provisioning.DriftEvery(ctx, c.driftEvery)
	}
	// Access taken away on another replica closes connections here too.
	go svc.Connections.EnforceAccessEvery(ctx, service.EnforceInterval)
	// Requests, windows and grants whose time came end (once across
	// replicas, each with its session).
	go svc.Requests.ExpireEvery(ctx, service.EnforceInterval)
	go svc.Rotation.RotateEvery(ctx, c.rotateCheck)
	go svc.Campaigns.CloseDueEvery(ctx, service.EnforceInterval)
	if c.metricsListen != "" {
		mln, err := net.Listen("tcp", c.metricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mln)
		defer msrv.Close()
		fmt.Fprintf(e.stderr, "stile: metrics on http://%s/metrics\n", mln.Addr())
	}
	if c.pgListen != "" {
		addr, err := servePG(ctx, c.pgListen, c.tlsCert, c.tlsKey, svc, log.With("component", "pg"))
		if err != nil {
			return err
		}
		svc.Masking.SetListenerAddr(loopbackIfAny(addr))
		fmt.Fprintf(e.stderr, "stile: PostgreSQL listener on %s (user: a resource role, password: the API token)\n", addr)
	}
	srv := &http.Server{Handler: server.New(svc, log, agents), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	svc.Masking.SetAPIBase(scheme(c) + "://" + loopbackIfAny(ln.Addr()))
	fmt.Fprintf(e.stderr, "stile: serving on %s://%s (data %s, admin token in %s)\n", scheme(c), ln.Addr(), data, tokenPath)
	errc := make(chan error, 1)
	go func() {
		if c.tlsCert != "" {
			errc <- srv.ServeTLS(ln, c.tlsCert, c.tlsKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Agent WebSockets are hijacked connections, which Shutdown leaves open.
	agents.Close()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// scheme is the server's URL scheme: https with a certificate.
func scheme(c serverConfig) string {
	if c.tlsCert != "" {
		return "https"
	}
	return "http"
}

func loadOrCreateToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		if t := strings.TrimSpace(string(data)); t != "" {
			return t, nil
		}
		return "", fmt.Errorf("admin token file %s is empty", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("admin token: %w", err)
	}
	token := secret.NewToken()
	if err := secret.WriteFileExclusive(path, token+"\n"); err != nil {
		return "", err
	}
	return token, nil
}

// loopbackIfAny is addr, with a wildcard host (0.0.0.0, ::) made the
// loopback address: where the server dials itself.
func loopbackIfAny(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/secret"
)

// savedLogin is what stile login keeps in the user's config dir (0600):
// the server it is for and the token, until it expires.
type savedLogin struct {
	URL       string    `json:"url"`
	User      string    `json:"user"`
	ID        string    `json:"id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// loginPath is $XDG_CONFIG_HOME/stile/login.json (~/.config/stile/…).
func loginPath(e *env) string {
	dir := e.getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := e.getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "stile", "login.json")
}

func readLogin(e *env) (savedLogin, error) {
	var l savedLogin
	data, err := os.ReadFile(loginPath(e))
	if err != nil {
		return l, err
	}
	return l, json.Unmarshal(data, &l)
}

func writeLogin(e *env, l savedLogin) error {
	path := loginPath(e)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(l, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func newLoginCmd(e *env) *cobra.Command {
	var device bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in with the company's identity provider; the CLI then uses a token that expires",
		Long: `Signs in through the stile server's sign-in with the identity provider and
keeps a token that expires (--oidc-session-max on the server, 8 hours by
default) in $XDG_CONFIG_HOME/stile/login.json (mode 0600). Commands use it for
this server when STILE_TOKEN and --token-file are not set; stile logout
revokes it.

With a browser on this machine, stile login opens it (or the command in
$BROWSER) and waits on a loopback port for the sign-in to come back. Without
one, --device shows a code and a URL to open in any browser signed in to
stile, where you approve the code.`,
		Example: "  stile login\n  stile login --device",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := anonClient(cmd, e)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			var t api.LoginToken
			if device {
				t, err = deviceLogin(ctx, c, e)
			} else {
				t, err = browserLogin(ctx, c, e)
			}
			if err != nil {
				return err
			}
			if err := writeLogin(e, savedLogin{URL: c.base, User: t.User, ID: t.ID, Token: t.Token, ExpiresAt: t.ExpiresAt}); err != nil {
				return fmt.Errorf("keep the token: %w", err)
			}
			fmt.Fprintf(e.stdout, "signed in to %s as %s until %s (token %s)\n", c.base, t.User, t.ExpiresAt.Local().Format("2006-01-02 15:04 MST"), t.ID)
			return nil
		},
	}
	cmd.Flags().BoolVar(&device, "device", false, "no browser here: approve a code in a browser elsewhere")
	cmd.Flags().DurationVar(&wait, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}

// browserLogin is the loopback flow: the browser brings back a code, which
// only this process (holding the PKCE verifier) can trade for a token.
func browserLogin(ctx context.Context, c *client, e *env) (api.LoginToken, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return api.LoginToken{}, fmt.Errorf("listen on a loopback port: %w", err)
	}
	defer ln.Close()
	verifier, state := oauth2.GenerateVerifier(), secret.NewToken()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	to := c.base + "/auth/cli?" + url.Values{"port": {port}, "challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "state": {state}}.Encode()
	codes := make(chan string, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/callback" || q.Get("state") != state || q.Get("code") == "" {
			http.Error(w, "not the sign-in this stile login waits for", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>stile</title><p id="cli-signed-in">Signed in: you can close this tab and go back to the terminal.</p>`)
		select {
		case codes <- q.Get("code"):
		default:
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Fprintf(e.stderr, "Opening your browser to sign in. If it does not open, visit:\n  %s\n", to)
	if err := e.openBrowser(to); err != nil {
		fmt.Fprintf(e.stderr, "(could not open a browser: %v; on a machine without one, use stile login --device)\n", err)
	}
	select {
	case code := <-codes:
		var t api.LoginToken
		err := c.call(ctx, "POST", "/api/v1/auth/cli-token", map[string]string{"code": code, "verifier": verifier}, &t)
		return t, err
	case <-ctx.Done():
		return api.LoginToken{}, errs.New(errs.Unavailable, "no sign-in came back before the timeout: run stile login again (or stile login --device)")
	}
}

// deviceLogin shows a code to approve in a browser anywhere and polls.
func deviceLogin(ctx context.Context, c *client, e *env) (api.LoginToken, error) {
	var d api.DeviceStart
	if err := c.call(ctx, "POST", "/api/v1/auth/device", nil, &d); err != nil {
		return api.LoginToken{}, err
	}
	fmt.Fprintf(e.stderr, "To sign in, open this in a browser signed in to stile and approve code %s:\n  %s\n", d.UserCode, d.VerificationURI)
	tick := time.NewTicker(time.Duration(max(d.Interval, 1)) * time.Second)
	defer tick.Stop()
	for {
		var t api.LoginToken
		err := c.call(ctx, "POST", "/api/v1/auth/device/token", map[string]string{"device_code": d.DeviceCode}, &t)
		var ae *apiError
		switch {
		case err == nil:
			return t, nil
		case errors.As(err, &ae) && ae.Code == errs.Conflict:
			// Not approved yet.
		default:
			return t, err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return t, errs.New(errs.Unavailable, "code %s was not approved before the timeout: run stile login --device again", d.UserCode)
		}
	}
}

// openBrowser opens url in the person's browser: $BROWSER, else the
// system's opener.
func (e *env) openBrowser(to string) error {
	if e.browse != nil {
		return e.browse(to)
	}
	name := e.getenv("BROWSER")
	switch {
	case name != "":
	case runtime.GOOS == "darwin":
		name = "open"
	default:
		name = "xdg-open"
	}
	cmd := exec.Command(name, to)
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

func newLogoutCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "logout",
		Short:   "Revoke the token stile login keeps, and forget it",
		Example: "  stile logout",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := readLogin(e)
			if errors.Is(err, os.ErrNotExist) {
				fmt.Fprintln(e.stdout, "not signed in")
				return nil
			}
			if err == nil && time.Now().Before(l.ExpiresAt) {
				c, cerr := anonClient(cmd, e)
				if cerr == nil {
					c.base, c.token = l.URL, l.Token
					if err := c.call(cmd.Context(), "POST", "/api/v1/auth/logout", nil, nil); err != nil {
						fmt.Fprintf(e.stderr, "warning: the server did not revoke token %s (%v); it expires at %s\n", l.ID, err, l.ExpiresAt.Local().Format("15:04 MST"))
					}
				}
			}
			if err := os.Remove(loginPath(e)); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "signed out of %s\n", l.URL)
			return nil
		},
	}
}

package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/local"
)

// client calls the stile API.
type client struct {
	base  string
	token string
	http  *http.Client
}

// newClient resolves the server URL and token: flags, then STILE_URL /
// STILE_TOKEN, then the token of stile login for this server, then (for a
// loopback URL) the default data dir's admin.token.
func newClient(cmd *cobra.Command, e *env) (*client, error) {
	c, err := anonClient(cmd, e)
	if err != nil {
		return nil, err
	}
	token, err := tokenFrom(cmd, e, "STILE_TOKEN")
	if err != nil {
		return nil, err
	}
	if token == "" {
		if l, err := readLogin(e); err == nil && l.URL == c.base && time.Now().Before(l.ExpiresAt) {
			token = l.Token
		}
	}
	if u, _ := url.Parse(c.base); token == "" && local.IsLoopback(u.Hostname()) {
		data, err := os.ReadFile(filepath.Join(local.DataDir(e.getenv), "admin.token"))
		if err == nil {
			token = strings.TrimSpace(string(data))
		}
	}
	if token == "" {
		// Say first what is wrong first: nothing listening beats a
		// missing token.
		if err := reachable(cmd.Context(), c.http, c.base); err != nil {
			return nil, err
		}
		return nil, errs.New(errs.Unauthorized, "no API token: run stile login, set STILE_TOKEN or pass --token-file")
	}
	c.token = token
	return c, nil
}

// anonClient is a client of the server without a token: stile login's.
func anonClient(cmd *cobra.Command, e *env) (*client, error) {
	base, _ := cmd.Flags().GetString("url")
	if base == "" {
		base = e.getenv("STILE_URL")
	}
	if base == "" {
		base = "http://127.0.0.1:8009"
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.Invalidf("server URL %q is not an http(s) URL", base)
	}
	hc, err := httpClient(e.getenv("STILE_CA"))
	if err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{}
	}
	hc.Timeout = 35 * time.Minute
	return &client{base: strings.TrimRight(base, "/"), http: hc}, nil
}

// reachable checks that a stile server answers at base.
func reachable(ctx context.Context, hc *http.Client, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(base, "/")+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("no stile server answers at %s: %w", base, unwrapURLError(err))
	}
	resp.Body.Close()
	return nil
}

// apiError is an error response; Detail is the partial result, if any.
type apiError = api.ResponseError

// api is c as the API's typed client.
func (c *client) api() *api.Client {
	return &api.Client{Base: c.base, Token: c.token, HTTP: c.http}
}

// call sends a JSON request and decodes a JSON response into out (see
// api.Client.Call).
func (c *client) call(ctx context.Context, method, path string, in, out any) error {
	return c.api().Call(ctx, method, path, in, out)
}

// stream sends a JSON request whose answer is NDJSON and calls line with
// each object as it arrives (see api.Client.Stream).
func (c *client) stream(ctx context.Context, method, path string, in any, line func([]byte) error) error {
	return c.api().Stream(ctx, method, path, in, line)
}

// do sends a JSON request and returns a successful response for the caller
// to read and close (see api.Client.Do).
func (c *client) do(ctx context.Context, method, path string, in any, accept string) (*http.Response, error) {
	return c.api().Do(ctx, method, path, in, accept)
}

func unwrapURLError(err error) error { return api.UnwrapURLError(err) }

// detail decodes an apiError's detail into v; it reports whether it did.
func detail(err error, v any) bool { return api.DecodeDetail(err, v) }

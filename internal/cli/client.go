package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/errs"
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
	if u, _ := url.Parse(c.base); token == "" && isLoopback(u.Hostname()) {
		data, err := os.ReadFile(filepath.Join(dataDir(e.getenv), "admin.token"))
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

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// apiError is an error response; detail is the partial result, if any.
type apiError struct {
	Code    errs.Code
	Message string
	Detail  json.RawMessage
}

func (e *apiError) Error() string { return e.Message }

// call sends a JSON request and decodes a JSON response into out. An error
// response becomes an *apiError whose Detail the caller may decode.
func (c *client) call(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.do(ctx, method, path, in, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode response: %w", err)
		}
	}
	return nil
}

// stream sends a JSON request whose answer is one JSON object per line
// (NDJSON) and calls line with each as it arrives. An error line stops it.
func (c *client) stream(ctx context.Context, method, path string, in any, line func([]byte) error) error {
	resp, err := c.do(ctx, method, path, in, "application/x-ndjson")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := line(sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read response: %w", unwrapURLError(err))
	}
	return nil
}

// do sends a JSON request and returns a successful response for the caller
// to read and close; an error response becomes an *apiError.
func (c *client) do(ctx context.Context, method, path string, in any, accept string) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach stile server at %s: %w", c.base, unwrapURLError(err))
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	var eb struct {
		Error struct {
			Code    errs.Code `json:"code"`
			Message string    `json:"message"`
		} `json:"error"`
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
		return nil, fmt.Errorf("stile server: %s", resp.Status)
	}
	return nil, &apiError{Code: eb.Error.Code, Message: eb.Error.Message, Detail: eb.Detail}
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// detail decodes an apiError's detail into v; it reports whether it did.
func detail(err error, v any) bool {
	ae, ok := err.(*apiError)
	if !ok || len(ae.Detail) == 0 || string(ae.Detail) == "null" {
		return false
	}
	return json.Unmarshal(ae.Detail, v) == nil
}

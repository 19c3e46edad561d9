package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/oidctest"
)

// scriptedBrowser is a person at a browser: it follows redirects, keeps
// cookies, and signs in on the provider's page.
type scriptedBrowser struct {
	t *testing.T
	c *http.Client
}

func newScriptedBrowser(t *testing.T) *scriptedBrowser {
	jar, _ := cookiejar.New(nil)
	return &scriptedBrowser{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// visit opens u; when it lands on the provider's sign-in page, it signs in
// as username. It returns the last page.
func (b *scriptedBrowser) visit(u, username, password string) (*http.Response, string) {
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatalf("browse %s: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if id := resp.Request.URL.Query().Get("authRequestID"); strings.HasSuffix(resp.Request.URL.Path, "/login/username") && id != "" {
		at := resp.Request.URL
		resp, err = b.c.PostForm(at.Scheme+"://"+at.Host+"/login/username", url.Values{"id": {id}, "username": {username}, "password": {password}})
		if err != nil {
			b.t.Fatalf("sign in at the provider: %v", err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	// stile's sign-in page: the person clicks "Sign in with …".
	if m := regexp.MustCompile(`id="signin-oidc" href="([^"]+)"`).FindSubmatch(body); m != nil {
		next, _ := resp.Request.URL.Parse(strings.ReplaceAll(string(m[1]), "&amp;", "&"))
		return b.visit(next.String(), username, password)
	}
	// stile's signed-in page moves on with a meta refresh.
	if m := regexp.MustCompile(`http-equiv="refresh" content="0;url=([^"]+)"`).FindSubmatch(body); m != nil {
		next, _ := resp.Request.URL.Parse(strings.ReplaceAll(string(m[1]), "&amp;", "&"))
		return b.visit(next.String(), username, password)
	}
	return resp, string(body)
}

// oidcServer is a server whose web app and CLI sign in with a real provider
// that knows ann (group analysts).
func oidcServer(t *testing.T) (*harness, *oidctest.Provider) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	idp := oidctest.Start(t, []oidctest.User{{ID: "u-ann", Username: "ann", Password: "ann-pw", Groups: []string{"analysts"}}}, "http://"+addr+"/auth/oidc/callback")
	h := startServerWith(t, t.TempDir(), map[string]string{"addr": addr, "STILE_OIDC_CLIENT_SECRET": oidctest.ClientSecret, "XDG_CONFIG_HOME": t.TempDir(),
		"args": "--oidc-issuer " + idp.Issuer + " --oidc-client-id " + oidctest.ClientID + " --oidc-name TestIdP --oidc-session-max 2h"})
	return h, idp
}

// TestLoginBrowser: stile login opens the browser, the person signs in at
// the provider, the CLI keeps a token that expires, commands act as that
// person, and stile logout revokes it.
func TestLoginBrowser(t *testing.T) {
	h, _ := oidcServer(t)
	var out, errb bytes.Buffer
	e := h.env(nil, &out, &errb)
	opened := make(chan string, 1)
	e.browse = func(u string) error {
		go func() {
			_, page := newScriptedBrowser(t).visit(u, "ann", "ann-pw")
			opened <- page
		}()
		return nil
	}
	if code := run(context.Background(), []string{"login"}, e); code != 0 {
		t.Fatalf("stile login: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if page := <-opened; !strings.Contains(page, "Signed in: you can close this tab") {
		t.Errorf("the browser ended on:\n%s", page)
	}
	if !regexp.MustCompile(`^signed in to http://[^ ]+ as ann until .* \(token [0-9a-f]+\)\n$`).MatchString(out.String()) {
		t.Errorf("stile login said %q", out.String())
	}
	info, err := os.Stat(loginPath(e))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("login.json: %v, mode %v", err, info.Mode())
	}
	l, _ := readLogin(e)
	if d := time.Until(l.ExpiresAt); d < 110*time.Minute || d > 2*time.Hour {
		t.Errorf("the token lasts %s, want the server's --oidc-session-max (2h)", d)
	}
	// Commands act as ann, a member: her roles yes, the sessions no.
	h.ok("", "roles", "list")
	h.fails(exitDenied, "ann is not an administrator", "", "sessions", "list")
	h.ok("", "logout")
	if _, err := os.Stat(loginPath(e)); !os.IsNotExist(err) {
		t.Error("login.json is still there after stile logout")
	}
	// The token is revoked at the server, not only forgotten here.
	h.vars["STILE_TOKEN"] = l.Token
	h.fails(exitDenied, "missing or wrong API token", "", "roles", "list")
}

// TestLoginDevice: stile login --device shows a code and a URL; a person
// signs in to the web app there (through the provider) and approves the
// code; the CLI gets its token.
func TestLoginDevice(t *testing.T) {
	h, _ := oidcServer(t)
	out, errb := &syncWriter{}, &syncWriter{}
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"login", "--device", "--timeout", "1m"}, h.env(nil, out, errb))
	}()
	var verify, code string
	for i := 0; verify == ""; i++ {
		if m := regexp.MustCompile(`approve code (\S+):\n\s+(\S+)`).FindStringSubmatch(strings.Join(errb.lines(), "\n")); m != nil {
			code, verify = m[1], m[2]
		}
		if i > 200 {
			t.Fatalf("stile login --device showed no code: %q", errb.lines())
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := newScriptedBrowser(t)
	resp, page := b.visit(verify, "ann", "ann-pw")
	if !strings.Contains(page, "asks to sign in as <b>ann</b>") || !strings.Contains(page, `value="`+code+`"`) {
		t.Fatalf("the approval page (%s):\n%s", resp.Request.URL, page)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	resp, err := b.c.PostForm(strings.Split(verify, "?")[0], url.Values{"csrf": {csrf[1]}, "user_code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "is signed in as ann") {
		t.Fatalf("approving: %s\n%s", resp.Status, body)
	}
	select {
	case c := <-done:
		if c != 0 {
			t.Fatalf("stile login --device: exit %d\n%s", c, strings.Join(errb.lines(), "\n"))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stile login --device never finished after the approval")
	}
	if got := strings.Join(out.lines(), "\n"); !strings.Contains(got, " as ann until ") {
		t.Errorf("stile login --device said %q", got)
	}
	h.ok("", "roles", "list")
	// The code works once.
	resp, _ = b.c.PostForm(strings.Split(verify, "?")[0], url.Values{"csrf": {csrf[1]}, "user_code": {code}})
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), fmt.Sprintf("no sign-in waits with code %s", code)) {
		t.Errorf("approving the same code again: %s\n%s", resp.Status, body)
	}
}

package web_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestWebPeople: an administrator adds a user and a group in the browser,
// puts one in the other, makes a token (shown once), revokes it and
// disables the user; the API sees each change.
func TestWebPeople(t *testing.T) {
	ctx := browser(t)
	base := startStile(t)
	run(t, ctx, "sign in", chromedp.Navigate(base+"/people"), chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", token, chromedp.ByID), chromedp.Click("#signin", chromedp.ByID), chromedp.WaitVisible("#users", chromedp.ByID))
	run(t, ctx, "add user", chromedp.SendKeys("#add-user-name", "ben", chromedp.ByID), chromedp.Submit("#add-user", chromedp.ByID),
		chromedp.WaitVisible("#user-ben", chromedp.ByID))
	run(t, ctx, "add group", chromedp.SendKeys("#add-group-name", "ops", chromedp.ByID), chromedp.Submit("#add-group", chromedp.ByID),
		chromedp.WaitVisible("#group-ops .add-member", chromedp.ByQuery))
	run(t, ctx, "add member", chromedp.Submit("#group-ops .add-member", chromedp.ByQuery), chromedp.WaitVisible("#group-ops .remove-member", chromedp.ByQuery))
	run(t, ctx, "new token", clickHX("#user-ben .new-token"), chromedp.WaitVisible("#new-token", chromedp.ByID))
	if tok := text(t, ctx, "#new-token"); !strings.HasPrefix(tok, "stlp_") {
		t.Fatalf("new token %q", tok)
	}
	shot(t, ctx, "15-people")
	run(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible("#users", chromedp.ByID))
	if count(t, ctx, "#new-token") != 0 {
		t.Fatal("the token is shown again after a reload")
	}
	run(t, ctx, "revoke token", chromedp.Click("#user-ben .revoke-token", chromedp.ByQuery))
	eventually(t, ctx, "token revoked", `document.querySelector('#user-ben')?.textContent.includes('revoked')`)
	run(t, ctx, "disable", chromedp.Click("#user-ben .disable-user", chromedp.ByQuery), chromedp.WaitVisible("#user-ben .enable-user", chromedp.ByQuery))

	var users struct {
		Users []struct {
			Name     string
			Disabled bool
		}
	}
	api(t, base, "GET", "/api/v1/users", "", &users)
	var groups struct{ Groups map[string][]string }
	api(t, base, "GET", "/api/v1/groups", "", &groups)
	var toks struct {
		Tokens []struct {
			RevokedAt string `json:"revoked_at"`
		}
	}
	api(t, base, "GET", "/api/v1/users/ben/tokens", "", &toks)
	var audit struct {
		Sessions []struct{ Actor, Output string }
	}
	api(t, base, "GET", "/api/v1/sessions?kind=access", "", &audit)
	var said []string
	for _, a := range audit.Sessions {
		said = append(said, strings.TrimSpace(a.Output))
	}
	for _, want := range []string{"web added member ben", "web added group ops", "web added ben to group ops", "web disabled user ben"} {
		if !slices.Contains(said, want) {
			t.Errorf("access sessions lack %q: %q", want, said)
		}
	}
	if len(users.Users) != 1 || !users.Users[0].Disabled || strings.Join(groups.Groups["ops"], ",") != "ben" || len(toks.Tokens) != 1 || toks.Tokens[0].RevokedAt == "" {
		t.Fatalf("after the People page: users %+v, groups %v, tokens %+v", users.Users, groups.Groups, toks.Tokens)
	}
}

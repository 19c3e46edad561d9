// Package web is stile's web app: server-rendered html/template pages with
// a vendored htmx, calling the same service layer as the JSON API.
package web

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/httperr"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/version"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// cookieName is the session cookie.
const cookieName = "stile_session"

// App serves the web app.
type App struct {
	svc  *service.Services
	log  *slog.Logger
	tmpl *template.Template
}

// New returns the web app. People sign in with a token the service
// authenticates (the admin token or a personal one).
func New(svc *service.Services, log *slog.Logger) *App {
	funcs := template.FuncMap{
		"steps":      func() []int { return []int{0, 1, 2} },
		"join":       strings.Join,
		"kinds":      func() []string { return service.SessionKinds },
		"privileges": spec.Privileges,
		"sslmodes":   spec.SSLModes,
		"version":    version.Short,
		"chart":      barChart,
		"spark":      sparkline,
		"bytes":      byteSize,
		"seconds":    seconds,
		"left":       timeLeft,
		"div":        func(a, b int64) int64 { return a / b },
		"whocanPrivileges": func() []string {
			return []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}
		},
		"reviewData": func(r store.AccessRequest, csrf string) map[string]any {
			return map[string]any{"Request": r, "CSRF": csrf}
		},
		"windows": func() []int { return service.UsageWindows },
		"connections": func(days []store.Usage) []int64 {
			out := make([]int64, len(days))
			for i, d := range days {
				out[i] = d.Connections
			}
			return out
		},
	}
	tmpl := template.Must(template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/*.html"))
	return &App{svc: svc, log: log, tmpl: tmpl}
}

// Static serves the embedded stylesheet and htmx.
func (a *App) Static() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	return http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
}

// session returns the request's cookie, who it acts as and its CSRF
// token. It is errs.NotFound if the browser is not signed in; any other
// error is the store's. Sessions live in the store, so any replica knows
// them.
func (a *App) session(r *http.Request) (cookie string, p service.Principal, csrf string, err error) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return "", p, "", errs.New(errs.NotFound, "not signed in")
	}
	p, csrf, err = a.svc.SignIn.WebSession(r.Context(), c.Value)
	if err != nil {
		return "", p, "", err
	}
	return c.Value, p, csrf, nil
}

type principalKey struct{}

type csrfKey struct{}

// principal is who the signed-in browser acts as.
func principal(r *http.Request) service.Principal {
	p, _ := r.Context().Value(principalKey{}).(service.Principal)
	return p
}

// csrfToken is the signed-in browser's CSRF token, or "".
func csrfToken(r *http.Request) string {
	c, _ := r.Context().Value(csrfKey{}).(string)
	return c
}

// Page wraps an administrators' page: unauthenticated requests go to the
// sign-in page, members get 403, and every POST must carry the session's
// CSRF token (form field csrf or the X-CSRF-Token header htmx sends).
func (a *App) Page(h func(w http.ResponseWriter, r *http.Request, csrf string)) http.HandlerFunc {
	return a.page(true, h)
}

// MemberPage wraps a page members may see too; h shows them only what
// their groups allow.
func (a *App) MemberPage(h func(w http.ResponseWriter, r *http.Request, csrf string)) http.HandlerFunc {
	return a.page(false, h)
}

func (a *App) page(adminOnly bool, h func(w http.ResponseWriter, r *http.Request, csrf string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, p, csrf, err := a.session(r)
		if errs.Is(err, errs.NotFound) {
			if r.Header.Get("HX-Request") != "" {
				w.Header().Set("HX-Redirect", "/login")
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			to := "/login"
			if r.Method == http.MethodGet && r.URL.Path != "/" {
				to += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'")
		ctx := context.WithValue(context.WithValue(r.Context(), principalKey{}, p), csrfKey{}, csrf)
		r = r.WithContext(ctx)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 16<<20)
			got := r.Header.Get("X-CSRF-Token")
			if got == "" {
				got = r.FormValue("csrf")
			}
			if !secret.TokenEqual(got, csrf) {
				a.fail(w, r, errs.New(errs.Forbidden, "invalid or missing CSRF token: reload the page"))
				return
			}
		}
		if adminOnly && p.MayAdminister() != nil {
			a.renderStatus(w, http.StatusForbidden, "forbidden", map[string]any{"Title": "Not allowed", "CSRF": csrf, "Member": true, "User": p.User})
			return
		}
		h(w, r, csrf)
	}
}

// Home sends administrators to the inventory and members to their roles.
func (a *App) Home(w http.ResponseWriter, r *http.Request, _ string) {
	if principal(r).Admin {
		http.Redirect(w, r, "/inventory", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/roles", http.StatusSeeOther)
}

// Login shows the sign-in form (GET) or checks the token (POST): the admin
// token, or a user's personal token.
func (a *App) Login(w http.ResponseWriter, r *http.Request) {
	next := service.LocalPath(r.FormValue("next"))
	if r.Method == http.MethodGet {
		a.render(w, "login", map[string]any{"Provider": a.svc.SignIn.OIDCName(), "Next": next})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	id, _, err := a.svc.SignIn.StartWebSession(r.Context(), r.FormValue("token"))
	if errs.Is(err, errs.Unauthorized) {
		a.renderStatus(w, http.StatusUnauthorized, "login", map[string]any{"Error": "That token is not valid.", "Provider": a.svc.SignIn.OIDCName(), "Next": next})
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// oidcCookie holds a sign-in with the identity provider in progress: its
// state, nonce and PKCE verifier, sealed. Lax, so that the provider's
// redirect back (a top-level navigation from its site) carries it.
const oidcCookie = "stile_oidc"

// OIDCStart sends the browser to the identity provider.
func (a *App) OIDCStart(w http.ResponseWriter, r *http.Request) {
	to, cookie, err := a.svc.SignIn.OIDCStart(r.Context(), r.URL.Query().Get("next"))
	if err != nil {
		a.loginFailed(w, r, err)
		return
	}
	a.toProvider(w, r, to, cookie)
}

// OIDCStartCLI is stile login's way in: the CLI's loopback port, PKCE
// challenge and state ride through the provider's sign-in.
func (a *App) OIDCStartCLI(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to, cookie, err := a.svc.SignIn.OIDCStartCLI(r.Context(), q.Get("port"), q.Get("challenge"), q.Get("state"))
	if err != nil {
		a.loginFailed(w, r, err)
		return
	}
	a.toProvider(w, r, to, cookie)
}

// toProvider keeps the sign-in's cookie and sends the browser on.
func (a *App) toProvider(w http.ResponseWriter, r *http.Request, to, cookie string) {
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: cookie, Path: "/auth/oidc/", MaxAge: 600, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	http.Redirect(w, r, to, http.StatusFound)
}

// OIDCCallback is where the identity provider sends the browser back. The
// sign-in cookie is used once. The session cookie is Strict, which a
// browser does not send on the rest of a navigation that began on the
// provider's site: the page moves on to the app itself, same-site.
func (a *App) OIDCCallback(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/auth/oidc/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		a.renderStatus(w, http.StatusUnauthorized, "login", map[string]any{"Error": "The identity provider did not sign you in: " + e + " " + q.Get("error_description"), "Provider": a.svc.SignIn.OIDCName()})
		return
	}
	c, _ := r.Cookie(oidcCookie)
	value := ""
	if c != nil {
		value = c.Value
	}
	in, err := a.svc.SignIn.OIDCCallback(r.Context(), value, q.Get("state"), q.Get("code"))
	if err != nil {
		a.loginFailed(w, r, err)
		return
	}
	if in.WebCookie == "" {
		// stile login: on to the CLI's loopback port.
		http.Redirect(w, r, in.Redirect, http.StatusFound)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: in.WebCookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	a.render(w, "signed-in", in.Redirect)
}

// loginFailed shows the sign-in page with why the provider's sign-in
// failed (an internal error only as its id).
func (a *App) loginFailed(w http.ResponseWriter, r *http.Request, err error) {
	ans := httperr.Of(a.log, r, err)
	a.renderStatus(w, ans.Status, "login", map[string]any{"Error": ans.Message, "Provider": a.svc.SignIn.OIDCName()})
}

// Logout ends the session.
func (a *App) Logout(w http.ResponseWriter, r *http.Request, _ string) {
	if id, _, _, err := a.session(r); err == nil {
		a.svc.SignIn.EndWebSession(r.Context(), id)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (a *App) render(w http.ResponseWriter, name string, data any) {
	a.renderStatus(w, http.StatusOK, name, data)
}

// renderStatus renders template name with data under status.
func (a *App) renderStatus(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := a.tmpl.ExecuteTemplate(w, name, data); err != nil {
		a.log.Error("render page", "template", name, "err", err)
	}
}

// Device asks the signed-in person to approve a CLI's sign-in (stile login
// --device) by its user code.
func (a *App) Device(w http.ResponseWriter, r *http.Request, csrf string) {
	p := principal(r)
	a.render(w, "device", map[string]any{"Title": "Approve a CLI sign-in", "CSRF": csrf, "Member": !p.Admin, "User": p.User,
		"Code": strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("user_code")))})
}

// DeviceApprove approves it.
func (a *App) DeviceApprove(w http.ResponseWriter, r *http.Request, csrf string) {
	p := principal(r)
	code := strings.ToUpper(strings.TrimSpace(r.FormValue("user_code")))
	data := map[string]any{"Title": "Approve a CLI sign-in", "CSRF": csrf, "Member": !p.Admin, "User": p.User, "Code": code}
	if err := a.svc.SignIn.ApproveDevice(r.Context(), p, code); err != nil {
		ans := httperr.Of(a.log, r, err)
		data["Error"] = ans.Message
		a.renderStatus(w, ans.Status, "device", data)
		return
	}
	data["Approved"] = true
	a.render(w, "device", data)
}

// Package web is stile's web app: server-rendered html/template pages with
// a vendored htmx, calling the same service layer as the JSON API.
package web

import (
	"crypto/rand"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/service"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// cookieName is the session cookie.
const cookieName = "stile_session"

// sessionTTL is how long a sign-in lasts without use.
const sessionTTL = 12 * time.Hour

// App serves the web app.
type App struct {
	svc   *service.Service
	token string
	log   *slog.Logger
	tmpl  *template.Template

	mu       sync.Mutex
	sessions map[string]*webSession
}

// webSession is one signed-in browser.
type webSession struct {
	csrf    string
	expires time.Time
}

// New returns the web app; token is the admin API token people sign in with.
func New(svc *service.Service, token string, log *slog.Logger) *App {
	funcs := template.FuncMap{
		"steps": func() []int { return []int{0, 1, 2} },
		"join":  strings.Join,
		"kinds": func() []string { return []string{"health", "plan", "apply"} },
		"privileges": func() []string {
			return []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN", "ALL", "CREATE", "EXECUTE"}
		},
		"sslmodes": func() []string { return []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"} },
	}
	tmpl := template.Must(template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/*.html"))
	return &App{svc: svc, token: token, log: log, tmpl: tmpl, sessions: map[string]*webSession{}}
}

// Static serves the embedded stylesheet and htmx.
func (a *App) Static() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	return http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// session returns the request's live session, if any.
func (a *App) session(r *http.Request) (string, *webSession) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[c.Value]
	if s == nil || time.Now().After(s.expires) {
		delete(a.sessions, c.Value)
		return "", nil
	}
	s.expires = time.Now().Add(sessionTTL)
	return c.Value, s
}

// Page wraps a page handler: unauthenticated requests go to the sign-in
// page; every POST must carry the session's CSRF token (form field csrf or
// the X-CSRF-Token header htmx sends).
func (a *App) Page(h func(w http.ResponseWriter, r *http.Request, csrf string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, s := a.session(r)
		if s == nil {
			if r.Header.Get("HX-Request") != "" {
				w.Header().Set("HX-Redirect", "/login")
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 16<<20)
			got := r.Header.Get("X-CSRF-Token")
			if got == "" {
				got = r.FormValue("csrf")
			}
			if !secret.TokenEqual(got, s.csrf) {
				http.Error(w, "invalid or missing CSRF token: reload the page", http.StatusForbidden)
				return
			}
		}
		h(w, r, s.csrf)
	}
}

// Login shows the sign-in form (GET) or checks the token (POST).
func (a *App) Login(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		a.render(w, "login", map[string]any{})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if !secret.TokenEqual(strings.TrimSpace(r.FormValue("token")), a.token) {
		w.WriteHeader(http.StatusUnauthorized)
		a.render(w, "login", map[string]any{"Error": "That token is not valid."})
		return
	}
	id := randomHex(32)
	a.mu.Lock()
	a.sessions[id] = &webSession{csrf: randomHex(32), expires: time.Now().Add(sessionTTL)}
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/inventory", http.StatusSeeOther)
}

// Logout ends the session.
func (a *App) Logout(w http.ResponseWriter, r *http.Request, _ string) {
	id, _ := a.session(r)
	a.mu.Lock()
	delete(a.sessions, id)
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (a *App) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := a.tmpl.ExecuteTemplate(w, name, data); err != nil {
		a.log.Error("render page", "template", name, "err", err)
	}
}

package web

import (
	"net/http"

	"github.com/stile-dev/stile/internal/httperr"
)

// fail answers a request that failed with err the way the API does:
// httperr picks the status and what people may see (an internal error
// shows only the id it was logged with). htmx requests get the message as
// a fragment, other requests a page.
func (a *App) fail(w http.ResponseWriter, r *http.Request, err error) {
	ans := httperr.Of(a.log, r, err)
	if r.Header.Get("HX-Request") != "" {
		a.renderStatus(w, ans.Status, "error-fragment", ans.Message)
		return
	}
	p := principal(r)
	a.renderStatus(w, ans.Status, "error", map[string]any{
		"Title": http.StatusText(ans.Status), "Status": ans.Status, "Message": ans.Message,
		"SignedIn": csrfToken(r) != "", "CSRF": csrfToken(r), "Member": !p.Admin, "User": p.User,
	})
}

// message is what people may see of err where a page shows it in place
// (next to a form field or in a result row): its text, or for an internal
// error the id it was logged with.
func (a *App) message(r *http.Request, err error) string {
	return httperr.Of(a.log, r, err).Message
}

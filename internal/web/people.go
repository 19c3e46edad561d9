package web

import (
	"net/http"
	"slices"

	"github.com/stile-dev/stile/internal/store"
)

// personRow is one user on the People page.
type personRow struct {
	store.User
	Groups []string
	Tokens []store.Token
}

// People lists users with their groups and tokens, and the groups with
// their members; administrators add users, groups and tokens, disable users
// and revoke tokens here as with the CLI.
func (a *App) People(w http.ResponseWriter, r *http.Request, csrf string) {
	users, err := a.svc.Access.Users(r.Context(), principal(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	groups, err := a.svc.Access.Groups(r.Context(), principal(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	tokens, err := a.svc.Access.Tokens(r.Context(), principal(r), "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rows := make([]personRow, len(users))
	for i, u := range users {
		rows[i].User = u
		for _, g := range names {
			if slices.Contains(groups[g], u.Name) {
				rows[i].Groups = append(rows[i].Groups, g)
			}
		}
		for _, k := range tokens {
			if k.User == u.Name {
				rows[i].Tokens = append(rows[i].Tokens, k)
			}
		}
	}
	type groupRow struct {
		Name           string
		Members, Other []string
	}
	grows := make([]groupRow, len(names))
	for i, g := range names {
		grows[i] = groupRow{Name: g, Members: groups[g]}
		for _, u := range users {
			if !slices.Contains(groups[g], u.Name) {
				grows[i].Other = append(grows[i].Other, u.Name)
			}
		}
	}
	a.render(w, "people", map[string]any{"Title": "People", "Nav": "people", "CSRF": csrf, "User": principal(r).User,
		"Users": rows, "Groups": grows})
}

// PeopleCreateUser adds a user (admin=1 for an administrator).
func (a *App) PeopleCreateUser(w http.ResponseWriter, r *http.Request, _ string) {
	a.then(w, r, a.svc.Access.CreateUser(r.Context(), actor(r), r.FormValue("name"), r.FormValue("admin") == "1"))
}

// PeopleDisable disables (on=1) or enables a user; disabling closes their
// open connections.
func (a *App) PeopleDisable(w http.ResponseWriter, r *http.Request, _ string) {
	a.then(w, r, a.svc.Access.SetUserDisabled(r.Context(), actor(r), r.PathValue("name"), r.FormValue("on") == "1"))
}

// PeopleToken makes a token and shows it this once, in place (htmx): the
// page's address stays /people, so reloading it never makes another.
func (a *App) PeopleToken(w http.ResponseWriter, r *http.Request, _ string) {
	user := r.PathValue("name")
	id, token, err := a.svc.Access.CreateToken(r.Context(), actor(r), user)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, "token-shown", map[string]string{"User": user, "ID": id, "Token": token})
}

// PeopleRevoke revokes a token.
func (a *App) PeopleRevoke(w http.ResponseWriter, r *http.Request, _ string) {
	a.then(w, r, a.svc.Access.RevokeToken(r.Context(), actor(r), r.PathValue("id")))
}

// PeopleCreateGroup adds a group.
func (a *App) PeopleCreateGroup(w http.ResponseWriter, r *http.Request, _ string) {
	a.then(w, r, a.svc.Access.CreateGroup(r.Context(), actor(r), r.FormValue("name")))
}

// PeopleMember adds (on=1) or removes a user from a group.
func (a *App) PeopleMember(w http.ResponseWriter, r *http.Request, _ string) {
	a.then(w, r, a.svc.Access.SetMember(r.Context(), actor(r), r.PathValue("group"), r.FormValue("user"), r.FormValue("on") == "1"))
}

// then goes back to the People page, or shows what went wrong.
func (a *App) then(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/people", http.StatusSeeOther)
}

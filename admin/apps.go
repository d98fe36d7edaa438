package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	foyer "github.com/foyerhq/foyer"
)

// appsPage is the data of the applications page: the list and the form
// that registers one.
type appsPage struct {
	layout
	Apps      []*foyer.App
	CanCreate bool
	// Created and Secret show an app just registered; Secret, the only
	// time a confidential app's secret is shown, is empty for a public
	// app.
	Created *foyer.App
	Secret  string
	// Form holds what was submitted, and Errors its problems by field
	// ("name", "type", "redirect_uris", "post_logout_redirect_uris"), when
	// the form is shown again.
	Form   appForm
	Errors map[string]string
}

// appForm is the registration form as submitted.
type appForm struct {
	Name                   string
	Type                   string
	RedirectURIs           string
	PostLogoutRedirectURIs string
}

// appDeletePage is the data of the confirmation page of a deletion.
type appDeletePage struct {
	layout
	App *foyer.App
}

// appsAvailable returns ENotFound unless the console manages apps.
func (h *Handler) appsAvailable() error {
	if h.deps.Apps == nil {
		return foyer.Errorf(foyer.ENotFound, "Applications are not available here.")
	}
	return nil
}

// listApps handles GET /admin/apps.
func (h *Handler) listApps(w http.ResponseWriter, r *http.Request) error {
	return h.renderApps(w, r, http.StatusOK, &appsPage{Form: appForm{Type: string(foyer.AppConfidential)}})
}

// renderApps renders the applications page with p's extra content.
func (h *Handler) renderApps(w http.ResponseWriter, r *http.Request, status int, p *appsPage) error {
	if err := h.appsAvailable(); err != nil {
		return err
	}
	apps, err := h.deps.Apps.FindApps(r.Context())
	if err != nil {
		return err
	}
	p.layout, p.Apps, p.CanCreate = h.layout(r, "Applications"), apps, h.deps.NewAppSecret != nil
	h.render(w, r, status, "apps", p)
	return nil
}

// createApp handles POST /admin/apps {name, type, redirect_uris,
// post_logout_redirect_uris}, the address lists one per line. The answer
// shows the client id and, for a confidential app, the secret, once: it
// is not stored and cannot be shown again.
func (h *Handler) createApp(w http.ResponseWriter, r *http.Request) error {
	if err := h.appsAvailable(); err != nil {
		return err
	}
	if h.deps.NewAppSecret == nil {
		return foyer.Errorf(foyer.ENotFound, "Applications cannot be registered here.")
	}
	f := appForm{
		Name:                   strings.TrimSpace(r.PostFormValue("name")),
		Type:                   r.PostFormValue("type"),
		RedirectURIs:           r.PostFormValue("redirect_uris"),
		PostLogoutRedirectURIs: r.PostFormValue("post_logout_redirect_uris"),
	}
	a := &foyer.App{Name: f.Name, Type: foyer.AppType(f.Type), RedirectURIs: lines(f.RedirectURIs), PostLogoutRedirectURIs: lines(f.PostLogoutRedirectURIs)}
	if errs := checkAppForm(a); len(errs) > 0 {
		return h.renderApps(w, r, http.StatusUnprocessableEntity, &appsPage{Form: f, Errors: errs})
	}
	var secret string
	if a.Type == foyer.AppConfidential {
		secret, a.SecretHash = h.deps.NewAppSecret()
	}
	err := h.deps.Apps.CreateApp(r.Context(), a)
	h.audit(r, "app.create", a.ID, statusOf(err, http.StatusCreated), map[string]string{"name": a.Name, "type": string(a.Type)})
	if foyer.ErrorCode(err) == foyer.EInvalid {
		// What the form checks cannot catch: show the store's reason.
		return h.renderApps(w, r, http.StatusUnprocessableEntity, &appsPage{Form: f, Errors: map[string]string{"form": foyer.ErrorMessage(err)}})
	}
	if err != nil {
		return err
	}
	return h.renderApps(w, r, http.StatusCreated, &appsPage{Created: a, Secret: secret, Form: appForm{Type: string(foyer.AppConfidential)}})
}

// lines returns the non-blank lines of s, trimmed.
func lines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// checkAppForm returns the problems of a new app by form field, with the
// rules of foyer.App.Validate said for the person filling the form.
func checkAppForm(a *foyer.App) map[string]string {
	errs := map[string]string{}
	if a.Name == "" || utf8.RuneCountInString(a.Name) > foyer.MaxAppNameLength || !foyer.ValidText(a.Name) {
		errs["name"] = fmt.Sprintf("Give the application a name of 1 to %d characters, such as the product people sign in to.", foyer.MaxAppNameLength)
	}
	if a.Type != foyer.AppPublic && a.Type != foyer.AppConfidential {
		errs["type"] = "Choose whether the application runs on a server (confidential) or in a browser or on a device (public)."
	}
	if len(a.RedirectURIs) == 0 {
		errs["redirect_uris"] = "Give at least one redirect URI, one per line."
	} else if msg := checkURIs(a.RedirectURIs); msg != "" {
		errs["redirect_uris"] = msg
	}
	if msg := checkURIs(a.PostLogoutRedirectURIs); msg != "" {
		errs["post_logout_redirect_uris"] = msg
	}
	return errs
}

// checkURIs returns what is wrong with a list of addresses, or "".
func checkURIs(uris []string) string {
	if len(uris) > foyer.MaxAppRedirectURIs {
		return fmt.Sprintf("Give at most %d addresses.", foyer.MaxAppRedirectURIs)
	}
	for i, u := range uris {
		if err := foyer.ValidRedirectURI(u); err != nil {
			return foyer.ErrorMessage(err) + " Use https, or http on localhost only, without a #fragment."
		}
		if slices.Contains(uris[:i], u) {
			return "The address " + u + " is listed twice."
		}
	}
	return ""
}

// deleteAppPage handles GET /admin/apps/{id}/delete: the confirmation.
func (h *Handler) deleteAppPage(w http.ResponseWriter, r *http.Request) error {
	if err := h.appsAvailable(); err != nil {
		return err
	}
	a, err := h.deps.Apps.FindApp(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "app_delete", &appDeletePage{layout: h.layout(r, "Delete application "+a.Name), App: a})
	return nil
}

// deleteApp handles POST /admin/apps/{id}/delete: the app, its pending
// authorization requests and every session signed in through it are
// deleted.
func (h *Handler) deleteApp(w http.ResponseWriter, r *http.Request) error {
	if err := h.appsAvailable(); err != nil {
		return err
	}
	id := r.PathValue("id")
	err := h.deps.Apps.DeleteApp(r.Context(), id)
	h.audit(r, "app.delete", id, statusOf(err, http.StatusSeeOther), nil)
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/apps?notice=app-deleted", http.StatusSeeOther)
	return nil
}

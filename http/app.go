package http

import (
	"net/http"
	"strings"

	foyer "github.com/foyerhq/foyer"
)

// AppSecretPrefix starts every client secret of a confidential
// application, so that a leaked one is easy to recognise and to tell
// apart from an API key ("foyer_sk_").
const AppSecretPrefix = "foyer_cs_"

// NewAppSecret returns a new client secret ("foyer_cs_" and 32 random
// bytes in base64url) and the SHA-256 of the whole secret, prefix
// included, which is what App.SecretHash holds. The secret is shown once.
func NewAppSecret() (secret string, hash []byte) {
	raw, _ := newSecret()
	secret = AppSecretPrefix + raw
	return secret, hashSecret(secret)
}

// appWithSecret is the body of POST /v1/apps and POST
// /v1/apps/{id}/secret: the only times a confidential app's secret is
// shown. A public app has none, and the member is left out.
type appWithSecret struct {
	*foyer.App
	Secret string `json:"secret,omitempty"`
}

// appInput is the body of POST and PATCH /v1/apps[/{id}]. Members that
// are absent are left alone by PATCH; the type is set when the app is
// created and never changes.
type appInput struct {
	Name                   *string        `json:"name"`
	Type                   *foyer.AppType `json:"type"`
	RedirectURIs           *[]string      `json:"redirect_uris"`
	PostLogoutRedirectURIs *[]string      `json:"post_logout_redirect_uris"`
}

// apply copies the members of in that are present onto a, except the
// type.
func (in appInput) apply(a *foyer.App) {
	if in.Name != nil {
		a.Name = strings.TrimSpace(*in.Name)
	}
	if in.RedirectURIs != nil {
		a.RedirectURIs = *in.RedirectURIs
	}
	if in.PostLogoutRedirectURIs != nil {
		a.PostLogoutRedirectURIs = *in.PostLogoutRedirectURIs
	}
}

// appDoc returns a ready to render: its lists are never null.
func appDoc(a *foyer.App) *foyer.App {
	if a.RedirectURIs == nil {
		a.RedirectURIs = []string{}
	}
	if a.PostLogoutRedirectURIs == nil {
		a.PostLogoutRedirectURIs = []string{}
	}
	return a
}

// createApp handles POST /v1/apps {"name", "type", "redirect_uris",
// "post_logout_redirect_uris"}: the new app, whose id is its OAuth
// client_id, and for a confidential app its secret, shown only here.
func (s *Server) createApp(w http.ResponseWriter, r *http.Request) error {
	var in appInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	a := &foyer.App{}
	if in.Type != nil {
		a.Type = *in.Type
	}
	in.apply(a)
	var secret string
	if a.Type == foyer.AppConfidential {
		secret, a.SecretHash = NewAppSecret()
	}
	if err := s.deps.Apps.CreateApp(r.Context(), a); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/apps/"+a.ID)
	return writeJSON(w, http.StatusCreated, appWithSecret{App: appDoc(a), Secret: secret})
}

// listApps handles GET /v1/apps: every app, oldest first, without
// secrets.
func (s *Server) listApps(w http.ResponseWriter, r *http.Request) error {
	apps, err := s.deps.Apps.FindApps(r.Context())
	if err != nil {
		return err
	}
	if apps == nil {
		apps = []*foyer.App{}
	}
	for _, a := range apps {
		appDoc(a)
	}
	return writeJSON(w, http.StatusOK, struct {
		Apps []*foyer.App `json:"apps"`
	}{apps})
}

// getApp handles GET /v1/apps/{id}, without the secret.
func (s *Server) getApp(w http.ResponseWriter, r *http.Request) error {
	a, err := s.deps.Apps.FindApp(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, appDoc(a))
}

// patchApp handles PATCH /v1/apps/{id} {"name", "redirect_uris",
// "post_logout_redirect_uris"}, each optional: a member that is present
// replaces the stored value. The type cannot change ("type" may be sent
// only with the app's current type), and neither does the secret: see
// POST /v1/apps/{id}/secret. The app is read to check the type and fill
// in the absent members; UpdateApp then writes the name and addresses
// alone, so a patch racing a new secret never brings the old one back.
func (s *Server) patchApp(w http.ResponseWriter, r *http.Request) error {
	var in appInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	a, err := s.deps.Apps.FindApp(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if in.Type != nil && *in.Type != a.Type {
		return foyer.Errorf(foyer.EInvalid, "The type of an application cannot change; create another application instead.")
	}
	in.apply(a)
	if err := s.deps.Apps.UpdateApp(r.Context(), a); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, appDoc(a))
}

// deleteApp handles DELETE /v1/apps/{id}: the app, its pending
// authorization requests and every session signed in through it are
// deleted.
func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) error {
	if err := s.deps.Apps.DeleteApp(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// newAppSecret handles POST /v1/apps/{id}/secret: a confidential app gets
// a new secret, shown only in this response, and the previous one stops
// working at once. A public app has no secret (EConflict).
func (s *Server) newAppSecret(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	secret, hash := NewAppSecret()
	if err := s.deps.Apps.SetAppSecret(r.Context(), id, hash); err != nil {
		return err
	}
	a, err := s.deps.Apps.FindApp(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, appWithSecret{App: appDoc(a), Secret: secret})
}

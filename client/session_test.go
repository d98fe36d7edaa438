package client_test

import (
	"encoding/json"
	"testing"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/client"
	"github.com/foyerhq/foyer/sqlite"
	"github.com/foyerhq/foyer/token"
)

// mailToken returns the link token of the newest mail of kind to address,
// as the person would find it in their mailbox.
func (f *testFoyer) mailToken(t testing.TB, to, kind string) string {
	t.Helper()
	mail, err := sqlite.NewMailService(f.db).FindMail(t.Context(), &to, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mail {
		if m.Kind != kind {
			continue
		}
		var d foyer.MailData
		if err := json.Unmarshal(m.Data, &d); err != nil {
			t.Fatal(err)
		}
		return d.Token
	}
	t.Fatalf("no %s mail to %s", kind, to)
	return ""
}

// TestVisitorLifecycle walks a visitor through the visitor API as an
// app's server would on their behalf: anonymous, conversion, session,
// sign-in elsewhere with a merge, password reset.
func TestVisitorLifecycle(t *testing.T) {
	f := setup(t)
	c := client.New(f.URL, "")
	api := f.client()
	const email, password = "ann@example.org", "correct horse battery"

	a, err := c.CreateAnonymousUser(t.Context(), json.RawMessage(`{"watched":3}`))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ConvertMe", func(t *testing.T) {
		tests := []struct {
			name     string
			tok      string
			email    string
			wantCode string
		}{
			{"ErrUnauthorized", "", email, foyer.EUnauthorized},
			{"ErrInvalid", a.Token, "nope", foyer.EInvalid},
			{"OK", a.Token, email, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				exp, err := c.ConvertMe(t.Context(), tt.tok, tt.email)
				wantCode(t, err, tt.wantCode)
				if err == nil && !exp.After(f.Clock.Now()) {
					t.Fatalf("link expires at %v", exp)
				}
			})
		}
	})

	var sess *client.Session
	t.Run("CompleteConversion", func(t *testing.T) {
		link := f.mailToken(t, email, foyer.MailConversion)
		tests := []struct {
			name     string
			link     string
			password string
			wantCode string
		}{
			{"ErrInvalidPassword", link, "short", foyer.EInvalidPassword},
			{"ErrTokenInvalid", "not-the-link", password, foyer.ETokenInvalid},
			{"OK", link, password, ""},
			{"ErrTokenInvalidUsed", link, password, foyer.ETokenInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := c.CompleteConversion(t.Context(), tt.link, tt.password, a.Token)
				wantCode(t, err, tt.wantCode)
				if err != nil {
					return
				}
				if res.User.ID != a.User.ID || res.User.Anonymous || res.User.Email != email || string(res.User.Data) != `{"watched":3}` {
					t.Fatalf("converted user %+v", res.User)
				}
				if res.Session == nil || res.Session.AccessToken == "" || res.Session.RefreshToken == "" || res.Session.User.ID != a.User.ID {
					t.Fatalf("the client that started the conversion got no session: %+v", res.Session)
				}
				sess = res.Session
			})
		}
		// The access token works, locally and on Foyer; the anonymous
		// token is dead on Foyer.
		claims, err := f.verifier().Verify(t.Context(), sess.AccessToken, token.TypeAccess)
		if err != nil || claims.Subject != a.User.ID || claims.Anonymous {
			t.Fatalf("access token claims %+v, %v", claims, err)
		}
		if _, err := c.Me(t.Context(), sess.AccessToken); err != nil {
			t.Fatalf("Me with the access token: %v", err)
		}
		_, err = c.Me(t.Context(), a.Token)
		wantCode(t, err, foyer.EUnauthorized)
	})

	t.Run("RefreshSession", func(t *testing.T) {
		old := sess.RefreshToken
		next, err := c.RefreshSession(t.Context(), old)
		if err != nil {
			t.Fatalf("RefreshSession: %v", err)
		}
		if next.RefreshToken == old || next.User.ID != a.User.ID {
			t.Fatalf("refreshed session %+v", next)
		}
		// Reuse of the exchanged token is theft: the session ends.
		_, err = c.RefreshSession(t.Context(), old)
		wantCode(t, err, foyer.EUnauthorized)
		_, err = c.RefreshSession(t.Context(), next.RefreshToken)
		wantCode(t, err, foyer.EUnauthorized)
	})

	var b *client.AnonymousUser
	t.Run("Login", func(t *testing.T) {
		// The same person on a new device, with anonymous progress there.
		b, err = c.CreateAnonymousUser(t.Context(), json.RawMessage(`{"coins":5}`))
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name      string
			email     string
			password  string
			anonymous string
			wantMerge bool
			wantCode  string
		}{
			{"ErrWrongPassword", email, "wrong password", "", false, foyer.EInvalidCredentials},
			{"ErrUnknownAddress", "bob@example.org", password, "", false, foyer.EInvalidCredentials},
			{"OK", email, password, "", false, ""},
			{"OKMergeAvailable", email, password, b.Token, true, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, err := c.Login(t.Context(), tt.email, tt.password, tt.anonymous)
				wantCode(t, err, tt.wantCode)
				if err != nil {
					return
				}
				if s.User.ID != a.User.ID || s.AccessToken == "" || s.MergeAvailable != tt.wantMerge {
					t.Fatalf("session %+v, want merge_available %v", s, tt.wantMerge)
				}
				sess = s
			})
		}
	})

	t.Run("MergeMe", func(t *testing.T) {
		tests := []struct {
			name      string
			access    string
			anonymous string
			policy    foyer.MergePolicy
			wantCode  string
		}{
			{"ErrNoAnonymousToken", sess.AccessToken, "", "", foyer.EUnauthorized},
			{"ErrAnonymousTokenAsAccess", b.Token, b.Token, "", foyer.EUnauthorized},
			{"ErrPolicy", sess.AccessToken, b.Token, "newest_wins", foyer.EInvalid},
			{"OK", sess.AccessToken, b.Token, foyer.MergeRegisteredWins, ""},
			{"ErrAlreadyMerged", sess.AccessToken, b.Token, "", foyer.EUnauthorized},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u, from, err := c.MergeMe(t.Context(), tt.access, tt.anonymous, tt.policy)
				wantCode(t, err, tt.wantCode)
				if err != nil {
					return
				}
				if u.ID != a.User.ID || from != b.User.ID || string(u.Data) != `{"coins":5,"watched":3}` || u.Version == 0 {
					t.Fatalf("merged user %+v from %s", u, from)
				}
			})
		}
		alias, err := api.FindAlias(t.Context(), b.User.ID)
		if err != nil || alias.Into != a.User.ID {
			t.Fatalf("alias %+v, %v", alias, err)
		}
	})

	t.Run("Logout", func(t *testing.T) {
		wantCode(t, c.Logout(t.Context(), sess.AccessToken), "")
		_, err := c.Me(t.Context(), sess.AccessToken)
		wantCode(t, err, foyer.EUnauthorized)
		wantCode(t, c.Logout(t.Context(), sess.AccessToken), foyer.EUnauthorized)
		wantCode(t, c.Logout(t.Context(), ""), foyer.EUnauthorized)
	})

	t.Run("ResetPassword", func(t *testing.T) {
		for _, to := range []string{email, "nobody@example.org"} {
			if _, err := c.ForgotPassword(t.Context(), to); err != nil {
				t.Fatalf("ForgotPassword(%s): %v", to, err)
			}
		}
		_, err := c.ForgotPassword(t.Context(), "nope")
		wantCode(t, err, foyer.EInvalid)
		link := f.mailToken(t, email, foyer.MailPasswordReset)
		tests := []struct {
			name     string
			link     string
			password string
			wantCode string
		}{
			{"ErrTokenInvalid", "nope", "new password 1", foyer.ETokenInvalid},
			{"ErrInvalidPassword", link, "x", foyer.EInvalidPassword},
			{"OK", link, "new password 1", ""},
			{"ErrTokenInvalidUsed", link, "new password 2", foyer.ETokenInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u, err := c.ResetPassword(t.Context(), tt.link, tt.password)
				wantCode(t, err, tt.wantCode)
				if err == nil && u.ID != a.User.ID {
					t.Fatalf("reset user %+v", u)
				}
			})
		}
		_, err = c.Login(t.Context(), email, password, "")
		wantCode(t, err, foyer.EInvalidCredentials)
		if _, err := c.Login(t.Context(), email, "new password 1", ""); err != nil {
			t.Fatalf("Login with the new password: %v", err)
		}
	})
}

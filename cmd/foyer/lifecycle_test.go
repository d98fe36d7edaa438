package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The tests of this file run the README's walkthrough past the first
// steps over real HTTP against the real binary: progressive registration
// through the development mailbox, sign-in, the merge into an existing
// account, export and deletion.

// waitFor calls done until it reports true, pausing between calls. It
// fails the test if the test ends first; how long that takes is left to
// the test binary's timeout, so nothing here depends on timing.
func waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	for !done() {
		select {
		case <-t.Context().Done():
			t.Fatalf("%s never happened", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// devMail is one message of the development mailbox.
type devMail struct {
	Kind   string     `json:"kind"`
	To     string     `json:"to"`
	SentAt *time.Time `json:"sent_at"`
	Text   string     `json:"text"`
	Links  []string   `json:"links"`
}

// waitForMail waits until the mail worker has handled n messages to email
// and returns them, newest first.
func waitForMail(t *testing.T, base, apiKey, email string, n int) []devMail {
	t.Helper()
	admin := newClient(t, base)
	var msgs []devMail
	waitFor(t, "mail to "+email, func() bool {
		var box struct {
			Messages []devMail `json:"messages"`
		}
		admin.do("GET", "/v1/dev/mail?to="+url.QueryEscape(email), "", "", apiKey, http.StatusOK, &box)
		if len(box.Messages) < n {
			return false
		}
		for _, m := range box.Messages {
			if m.SentAt == nil {
				return false
			}
		}
		msgs = box.Messages
		return true
	})
	return msgs
}

// linkToken returns the token of a conversion link, checking that the
// link is on the public URL.
func linkToken(t *testing.T, base, link string) string {
	t.Helper()
	if !strings.HasPrefix(link, base+"/convert/complete?token=") {
		t.Fatalf("link %q, want one to %s/convert/complete", link, base)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// registeredDoc is a user as the visitor API returns it.
type registeredDoc struct {
	ID            string         `json:"id"`
	Anonymous     bool           `json:"anonymous"`
	Email         string         `json:"email"`
	EmailVerified bool           `json:"email_verified"`
	Data          map[string]any `json:"data"`
}

// register saves the visitor's progress under email: it requests the
// conversion, reads the link from the development mailbox and completes it
// with password in the visitor's own browser, which is then signed in.
// It returns the registered user.
func register(t *testing.T, base, apiKey string, visitor *client, email, password string) registeredDoc {
	t.Helper()
	visitor.do("POST", "/v1/me/convert", "application/json", `{"email":"`+email+`"}`, "", http.StatusAccepted, nil)
	msgs := waitForMail(t, base, apiKey, email, 1)
	if msgs[0].Kind != "conversion" || len(msgs[0].Links) == 0 {
		t.Fatalf("mail to %s = %+v, want a conversion mail with its link", email, msgs[0])
	}
	tok := linkToken(t, base, msgs[0].Links[0])
	var done struct {
		User     registeredDoc `json:"user"`
		SignedIn bool          `json:"signed_in"`
	}
	visitor.do("POST", "/v1/convert/complete", "application/json", `{"token":"`+tok+`","password":"`+password+`"}`, "", http.StatusOK, &done)
	if !done.SignedIn || done.User.Anonymous || done.User.Email != email || !done.User.EmailVerified {
		t.Fatalf("POST /v1/convert/complete = %+v, want %s registered, verified and signed in", done, email)
	}
	return done.User
}

// loginAnswer is the body of POST /v1/login.
type loginAnswer struct {
	User           registeredDoc `json:"user"`
	AccessToken    string        `json:"access_token"`
	MergeAvailable bool          `json:"merge_available"`
}

// testLifecycle runs issue 3's walkthrough and the privacy routes on a
// fresh `foyer serve`.
func testLifecycle(t *testing.T, env ...string) {
	bin := foyerBinary(t)
	key := "foyer_sk_" + randomHex(24)
	env = append(env, "FOYER_DATA_DIR="+filepath.Join(t.TempDir(), "data"), "FOYER_LOG_LEVEL=info",
		"FOYER_LISTEN="+freePort(t), "FOYER_ADMIN_API_KEY="+key)
	p := startFoyer(t, bin, env...)
	admin := newClient(t, p.url)
	const password = "correct horse battery staple"

	// Save the progress of a visitor: same id, data kept, signed in.
	visitor, id := walkthrough(t, p.url, key)
	email := "ann-" + randomHex(4) + "@example.com"
	u := register(t, p.url, key, visitor, email, password)
	if u.ID != id {
		t.Fatalf("registered user %s, want the anonymous user's id %s", u.ID, id)
	}
	var me registeredDoc
	visitor.do("GET", "/v1/me", "", "", "", http.StatusOK, &me)
	if diff := cmp.Diff(registeredDoc{ID: id, Email: email, EmailVerified: true, Data: map[string]any{"theme": "dark", "cart": []any{"sku-1"}}}, me); diff != "" {
		t.Fatalf("GET /v1/me after conversion (-want +got):\n%s", diff)
	}

	// Sign in with the email and password from another browser.
	phone := newClient(t, p.url)
	var in loginAnswer
	phone.do("POST", "/v1/login", "application/json", `{"email":"`+email+`","password":"`+password+`"}`, "", http.StatusOK, &in)
	if in.User.ID != id || in.AccessToken == "" || in.MergeAvailable {
		t.Fatalf("POST /v1/login = %+v, want user %s with an access token and no merge", in, id)
	}
	phone.do("GET", "/v1/me", "", "", "", http.StatusOK, &me)
	if me.ID != id || me.Data["theme"] != "dark" {
		t.Fatalf("GET /v1/me after sign-in = %+v, want %s with its data", me, id)
	}
	phone.do("POST", "/v1/login", "application/json", `{"email":"`+email+`","password":"wrong password"}`, "", http.StatusUnauthorized, nil)

	// A second visitor tries to save progress with Ann's address: the same
	// answer, Ann is told, nothing moves.
	other := newClient(t, p.url)
	var anon struct {
		User registeredDoc `json:"user"`
	}
	other.do("POST", "/v1/anonymous", "", "", "", http.StatusCreated, &anon)
	otherID := anon.User.ID
	other.do("PATCH", "/v1/me", "application/merge-patch+json", `{"data":{"theme":"light","cart":["sku-9"],"level":3}}`, "", http.StatusOK, nil)
	other.do("POST", "/v1/me/convert", "application/json", `{"email":"`+email+`"}`, "", http.StatusAccepted, nil)
	msgs := waitForMail(t, p.url, key, email, 2)
	if got := msgs[0]; got.Kind != "conversion_existing" || len(got.Links) != 1 || got.Links[0] != p.url+"/login" {
		t.Fatalf("newest mail to the owner = %+v, want conversion_existing linking only to %s/login", got, p.url)
	}
	var owner, stillAnon registeredDoc
	admin.do("GET", "/v1/users/"+id, "", "", key, http.StatusOK, &owner)
	admin.do("GET", "/v1/users/"+otherID, "", "", key, http.StatusOK, &stillAnon)
	if owner.Data["theme"] != "dark" || owner.Data["level"] != nil || !stillAnon.Anonymous || stillAnon.Email != "" {
		t.Fatalf("after the attempt owner = %+v, visitor = %+v; want both unchanged", owner, stillAnon)
	}

	// Ann signs in in that browser: a merge is offered, and done only when
	// she asks.
	other.do("POST", "/v1/login", "application/json", `{"email":"`+email+`","password":"`+password+`"}`, "", http.StatusOK, &in)
	if in.User.ID != id || !in.MergeAvailable {
		t.Fatalf("POST /v1/login with an anonymous cookie = %+v, want %s with merge_available", in, id)
	}
	var merged struct {
		User       registeredDoc `json:"user"`
		MergedFrom string        `json:"merged_from"`
	}
	other.do("POST", "/v1/me/merge", "", "", "", http.StatusOK, &merged)
	if merged.User.ID != id || merged.MergedFrom != otherID {
		t.Fatalf("POST /v1/me/merge = %+v, want %s merged into %s", merged, otherID, id)
	}
	// The default policy: a deep merge in which the registered account's
	// values win.
	other.do("GET", "/v1/me", "", "", "", http.StatusOK, &me)
	wantData := map[string]any{"theme": "dark", "cart": []any{"sku-1"}, "level": float64(3)}
	if diff := cmp.Diff(wantData, me.Data); me.ID != id || diff != "" {
		t.Fatalf("GET /v1/me after the merge is user %s, want %s; data (-want +got):\n%s", me.ID, id, diff)
	}
	var alias struct{ From, Into string }
	admin.do("GET", "/v1/aliases/"+otherID, "", "", key, http.StatusOK, &alias)
	if alias.From != otherID || alias.Into != id {
		t.Fatalf("GET /v1/aliases/%s = %+v, want it to point to %s", otherID, alias, id)
	}
	admin.do("GET", "/v1/users/"+otherID, "", "", key, http.StatusNotFound, nil)

	// Export and delete: the person takes their data, then erases it.
	var export struct {
		User    registeredDoc `json:"user"`
		Aliases []struct {
			From string `json:"from"`
		} `json:"aliases"`
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	other.do("GET", "/v1/me/export", "", "", "", http.StatusOK, &export)
	if export.User.ID != id || len(export.Aliases) != 1 || export.Aliases[0].From != otherID || len(export.Events) == 0 {
		t.Fatalf("GET /v1/me/export = %+v, want user %s with the alias from %s and its events", export, id, otherID)
	}
	admin.do("GET", "/v1/users/"+id+"/export", "", "", key, http.StatusOK, &export)
	if export.User.ID != id {
		t.Fatalf("GET /v1/users/%s/export = %+v", id, export.User)
	}
	other.do("DELETE", "/v1/me", "", "", "", http.StatusNoContent, nil)
	admin.do("GET", "/v1/users/"+id, "", "", key, http.StatusNotFound, nil)
	phone.do("GET", "/v1/me", "", "", "", http.StatusUnauthorized, nil)
	var deleted struct {
		Events []struct {
			Data struct {
				Reason string `json:"reason"`
			} `json:"data"`
		} `json:"events"`
	}
	admin.do("GET", "/v1/events?type=user.deleted&user_id="+id, "", "", key, http.StatusOK, &deleted)
	if len(deleted.Events) != 1 || deleted.Events[0].Data.Reason != "self" {
		t.Fatalf("GET /v1/events?type=user.deleted = %+v, want one with reason self", deleted)
	}
	var audit struct {
		Entries []struct {
			Actor  string `json:"actor"`
			Action string `json:"action"`
		} `json:"entries"`
	}
	admin.do("GET", "/v1/audit", "", "", key, http.StatusOK, &audit)
	exported := false
	for _, e := range audit.Entries {
		exported = exported || (e.Action == "GET /v1/users/{id}/export" && strings.HasPrefix(e.Actor, "api_key:"))
	}
	if !exported {
		t.Fatalf("GET /v1/audit = %+v, want the export by the API key", audit.Entries)
	}
	p.stop(t)
}

func TestLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testLifecycle(t)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		dsn := freshSchema(t, postgresDSN(t))
		testLifecycle(t, "FOYER_DATABASE_URL="+dsn)
	})
}

package http_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// exportBody is the export document as clients see it.
type exportBody struct {
	User     userDoc `json:"user"`
	Sessions []struct {
		ID        string `json:"id"`
		UserID    string `json:"user_id"`
		UserAgent string `json:"user_agent"`
		IP        string `json:"ip"`
	} `json:"sessions"`
	Conversions []struct {
		Email     string    `json:"email"`
		ExpiresAt time.Time `json:"expires_at"`
	} `json:"pending_conversions"`
	Events []struct {
		Type   string `json:"type"`
		UserID string `json:"user_id"`
	} `json:"events"`
	Deliveries []struct {
		EventType string `json:"event_type"`
		UserID    string `json:"user_id"`
	} `json:"deliveries"`
	Aliases []struct {
		From string `json:"from"`
	} `json:"aliases"`
	Mail []struct {
		Kind string          `json:"kind"`
		To   string          `json:"to"`
		Data json.RawMessage `json:"data"`
	} `json:"mail"`
	ExportedAt time.Time `json:"exported_at"`
}

// readExport checks an export response and decodes its document.
func readExport(t testing.TB, w *httptest.ResponseRecorder, id string) exportBody {
	t.Helper()
	check(t, w, http.StatusOK, "")
	if got, want := w.Header().Get("Content-Disposition"), `attachment; filename="foyer-export-`+id+`.json"`; got != want {
		t.Errorf("Content-Disposition = %q, want %q", got, want)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	dec := json.NewDecoder(strings.NewReader(w.Body.String()))
	var x exportBody
	if err := dec.Decode(&x); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
	if x.User.ID != id {
		t.Fatalf("export of %s holds user %s", id, x.User.ID)
	}
	return x
}

// eventTypesOf lists the types of the exported events, in order.
func (x exportBody) eventTypes() []string {
	var ts []string
	for _, e := range x.Events {
		ts = append(ts, e.Type)
	}
	return ts
}

// noneOf fails if body contains one of secrets.
func noneOf(t testing.TB, body string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(body, s) {
			t.Fatalf("export shows the secret %q: %s", s, body)
		}
	}
	for _, member := range []string{`"hash"`, `"refresh_hash"`, `"password"`, `"token"`, `"secret"`, "whsec_"} {
		if strings.Contains(body, member) {
			t.Fatalf("export shows %s: %s", member, body)
		}
	}
}

func TestExport(t *testing.T) {
	ts := setup(t)
	ctx := t.Context()
	hook := ts.createWebhook(t, `{"url":"https://hooks.example.com/foyer"}`)

	// A visitor with data and a pending conversion, whose events have
	// been turned into deliveries.
	v := ts.signup(t)
	check(t, ts.do("PATCH", "/v1/me", `{"data":{"cart":[3,4]}}`, join(mergePatchType, withCookie(v.Token))...), 200, "")
	ts.convert(t, v.Token, "Pat@Example.com")
	link := ts.mailToken(t, "pat@example.com", foyer.MailConversion)
	other := ts.signup(t)
	if _, err := ts.deliveries.FanOutEvents(ctx, 100); err != nil {
		t.Fatal(err)
	}

	t.Run("OKVisitor", func(t *testing.T) {
		w := ts.do("GET", "/v1/me/export", "", withCookie(v.Token)...)
		x := readExport(t, w, v.User.ID)
		noneOf(t, w.Body.String(), link, v.Token, hook.Secret, ts.apiKey)
		if got := string(x.User.Data); got != `{"cart":[3,4]}` {
			t.Errorf("data = %s", got)
		}
		if x.User.PendingEmail != "pat@example.com" || len(x.Conversions) != 1 || x.Conversions[0].Email != "pat@example.com" {
			t.Errorf("pending conversion: user %+v, conversions %+v", x.User, x.Conversions)
		}
		wantTypes := []string{foyer.EventUserAnonymousCreated, foyer.EventUserUpdated, foyer.EventUserConversionRequested}
		if got := x.eventTypes(); !slices.Equal(got, wantTypes) {
			t.Errorf("events %v, want %v", got, wantTypes)
		}
		for _, e := range x.Events {
			if e.UserID != v.User.ID {
				t.Errorf("an event about %s is in the export of %s", e.UserID, v.User.ID)
			}
		}
		if len(x.Deliveries) != len(wantTypes) {
			t.Errorf("%d deliveries, want one per event", len(x.Deliveries))
		}
		for _, d := range x.Deliveries {
			if d.UserID != v.User.ID {
				t.Errorf("a delivery about %s is in the export of %s", d.UserID, v.User.ID)
			}
		}
		// Mail to an address the visitor has not proven theirs is not
		// shown: the export must not reveal whether it has an account.
		if len(x.Mail) != 0 {
			t.Errorf("mail %+v to an unproven address", x.Mail)
		}
		if len(x.Sessions) != 0 || len(x.Aliases) != 0 || !x.ExportedAt.Equal(ts.clock.Now()) {
			t.Errorf("sessions %v, aliases %v, exported at %v", x.Sessions, x.Aliases, x.ExportedAt)
		}
		if strings.Contains(w.Body.String(), other.User.ID) {
			t.Error("the export names another visitor")
		}
	})
	t.Run("OKBearer", func(t *testing.T) {
		readExport(t, ts.do("GET", "/v1/me/export", "", bearer(v.Token)...), v.User.ID)
	})

	// The visitor completes the conversion in the same browser and signs
	// in elsewhere too: two sessions.
	res, w := ts.complete(t, link, password, withCookie(v.Token)...)
	sc := cookie(w, sessionCookieName)
	if sc == nil {
		t.Fatal("no session cookie")
	}
	login, _ := ts.login(t, "pat@example.com", password, "User-Agent", "PatPhone/1.0")
	check(t, ts.do("POST", "/v1/password/forgot", `{"email":"pat@example.com"}`, jsonType...), http.StatusAccepted, "")
	reset := ts.mailToken(t, "pat@example.com", foyer.MailPasswordReset)

	t.Run("OKServerAPI", func(t *testing.T) {
		w := ts.do("GET", "/v1/users/"+v.User.ID+"/export", "", ts.api()...)
		x := readExport(t, w, v.User.ID)
		noneOf(t, w.Body.String(), link, reset, sc.Value, res.AccessToken, login.AccessToken, login.RefreshToken, hook.Secret, ts.apiKey)
		if x.User.Anonymous || x.User.Email != "pat@example.com" || len(x.Conversions) != 0 {
			t.Errorf("user %+v, conversions %+v", x.User, x.Conversions)
		}
		if len(x.Sessions) != 2 || x.Sessions[1].UserAgent != "PatPhone/1.0" || x.Sessions[1].IP == "" {
			t.Errorf("sessions %+v, want two, the second from PatPhone", x.Sessions)
		}
		// The address is proven now: the mail sent to it is shown,
		// without the token of its link.
		if len(x.Mail) != 1 || x.Mail[0].Kind != foyer.MailPasswordReset || x.Mail[0].To != "pat@example.com" {
			t.Fatalf("mail %+v", x.Mail)
		}
		var d map[string]any
		if err := json.Unmarshal(x.Mail[0].Data, &d); err != nil || d["token"] != nil {
			t.Errorf("mail data %s, want no token", x.Mail[0].Data)
		}
		for _, typ := range []string{foyer.EventUserConverted, foyer.EventUserEmailVerified, foyer.EventUserLoginSuccess} {
			if !slices.Contains(x.eventTypes(), typ) {
				t.Errorf("events %v lack %s", x.eventTypes(), typ)
			}
		}
	})
	t.Run("OKSignedIn", func(t *testing.T) {
		readExport(t, ts.do("GET", "/v1/me/export", "", withSession(sc.Value)...), v.User.ID)
		readExport(t, ts.do("GET", "/v1/me/export", "", bearer(login.AccessToken)...), v.User.ID)
	})

	api := ts.api()
	ts.run(t, []scenario{
		{"ErrNoCredential", "GET", "/v1/me/export", nil, "", 401, "unauthorized", nil},
		{"ErrAPIKeyIsNoVisitor", "GET", "/v1/me/export", api, "", 401, "unauthorized", nil},
		{"ErrNotFound", "GET", "/v1/users/0190c2a4-7e5b-7000-8000-000000000000/export", api, "", 404, "not_found", nil},
		{"ErrNotUUID", "GET", "/v1/users/nope/export", api, "", 404, "not_found", nil},
		{"ErrUnauthorized", "GET", "/v1/users/" + v.User.ID + "/export", nil, "", 401, "unauthorized", nil},
	})

	t.Run("ErrNotFoundAfterDelete", func(t *testing.T) {
		check(t, ts.do("DELETE", "/v1/users/"+v.User.ID, "", api...), 204, "")
		check(t, ts.do("GET", "/v1/users/"+v.User.ID+"/export", "", api...), 404, "not_found")
		check(t, ts.do("GET", "/v1/me/export", "", bearer(login.AccessToken)...), 401, "unauthorized")
	})
	t.Run("ErrNotFoundAfterSelfDelete", func(t *testing.T) {
		check(t, ts.do("DELETE", "/v1/me", "", bearer(other.Token)...), 204, "")
		check(t, ts.do("GET", "/v1/users/"+other.User.ID+"/export", "", api...), 404, "not_found")
	})
}

// TestExportAfterMerge checks that the export of a registered account
// holds what came from the anonymous account merged into it.
func TestExportAfterMerge(t *testing.T) {
	ts := setup(t)
	owner := ts.register(t, "owner@example.com", `{"plan":"pro"}`)
	anon := ts.signup(t)
	check(t, ts.do("PATCH", "/v1/me", `{"data":{"cart":[1]}}`, join(mergePatchType, bearer(anon.Token))...), 200, "")
	login, _ := ts.login(t, "owner@example.com", password)
	check(t, ts.do("POST", "/v1/me/merge", "", join(bearer(login.AccessToken), anonymousHeader(anon.Token))...), 200, "")

	x := readExport(t, ts.do("GET", "/v1/users/"+owner+"/export", "", ts.api()...), owner)
	if len(x.Aliases) != 1 || x.Aliases[0].From != anon.User.ID {
		t.Fatalf("aliases %+v, want one from %s", x.Aliases, anon.User.ID)
	}
	if !slices.Contains(x.eventTypes(), foyer.EventUserMerged) {
		t.Errorf("events %v lack %s", x.eventTypes(), foyer.EventUserMerged)
	}
	check(t, ts.do("GET", "/v1/users/"+anon.User.ID+"/export", "", ts.api()...), 404, "not_found")
}

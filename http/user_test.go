package http_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/google/go-cmp/cmp"
)

func TestServerAuth(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)
	other, _ := foyerhttp.NewAPIKey()
	ts.run(t, []scenario{
		{"OK", "GET", "/v1/users", ts.api(), "", 200, "", nil},
		{"OKLowercaseScheme", "GET", "/v1/users", []string{"Authorization", "bearer " + ts.apiKey}, "", 200, "", nil},
		{"ErrNoKey", "GET", "/v1/users", nil, "", 401, "unauthorized", nil},
		{"ErrUnknownKey", "GET", "/v1/users", bearer(other), "", 401, "unauthorized", nil},
		{"ErrNotAKey", "GET", "/v1/users", bearer("secret"), "", 401, "unauthorized", nil},
		{"ErrVisitorToken", "GET", "/v1/users", bearer(s.Token), "", 401, "unauthorized", nil},
		{"ErrVisitorCookie", "GET", "/v1/users", withCookie(s.Token), "", 401, "unauthorized", nil},
		{"ErrBasic", "GET", "/v1/users", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(ts.apiKey+":"))}, "", 401, "unauthorized", nil},
	})
	t.Run("WWWAuthenticate", func(t *testing.T) {
		if got := ts.do("GET", "/v1/users", "").Header().Get("WWW-Authenticate"); got == "" {
			t.Error("401 without WWW-Authenticate")
		}
	})
}

func TestCreateUser(t *testing.T) {
	ts := setup(t)
	api := join(jsonType, ts.api())

	t.Run("OKAnonymous", func(t *testing.T) {
		w := ts.do("POST", "/v1/users", `{"anonymous":true,"data":{"from":"import"}}`, api...)
		check(t, w, http.StatusCreated, "", `"anonymous":true`, `"from":"import"`)
		var u userDoc
		decode(t, w, &u)
		if got, want := w.Header().Get("Location"), "/v1/users/"+u.ID; got != want {
			t.Errorf("Location = %q, want %q", got, want)
		}
	})

	t.Run("OKRegistered", func(t *testing.T) {
		w := ts.do("POST", "/v1/users", `{"email":" Ann@Example.ORG ","email_verified":true}`, api...)
		check(t, w, http.StatusCreated, "")
		var u userDoc
		decode(t, w, &u)
		want := userDoc{ID: u.ID, Email: "ann@example.org", EmailVerified: true, Data: u.Data}
		got := userDoc{ID: u.ID, Anonymous: u.Anonymous, Email: u.Email, EmailVerified: u.EmailVerified, Data: u.Data}
		if diff := cmp.Diff(want, got); diff != "" || string(u.Data) != "{}" {
			t.Errorf("user (-want +got):\n%s data %s", diff, u.Data)
		}
		stored := ts.findUser(t, u.ID)
		if stored.Anonymous || !stored.EmailVerified || stored.Email != "ann@example.org" || stored.HasPassword {
			t.Errorf("stored %+v, want a verified registered user without password", stored)
		}
	})

	ts.run(t, []scenario{
		{"ErrConflict", "POST", "/v1/users", api, `{"email":"ann@example.org","email_verified":true}`, 409, "conflict", nil},
		{"ErrNotVouched", "POST", "/v1/users", api, `{"email":"bob@example.org"}`, 400, "invalid", nil},
		{"ErrNotVerified", "POST", "/v1/users", api, `{"email":"bob@example.org","email_verified":false}`, 400, "invalid", nil},
		{"ErrAnonymousWithEmail", "POST", "/v1/users", api, `{"anonymous":true,"email":"bob@example.org","email_verified":true}`, 400, "invalid", nil},
		{"ErrAnonymousVerified", "POST", "/v1/users", api, `{"anonymous":true,"email_verified":true}`, 400, "invalid", nil},
		{"ErrNeither", "POST", "/v1/users", api, `{}`, 400, "invalid", nil},
		{"ErrNotAnonymous", "POST", "/v1/users", api, `{"anonymous":false}`, 400, "invalid", nil},
		{"ErrBadEmail", "POST", "/v1/users", api, `{"email":"not an address","email_verified":true}`, 400, "invalid", nil},
		{"ErrWrongType", "POST", "/v1/users", api, `{"anonymous":"yes"}`, 400, "invalid", nil},
		{"ErrUnknownField", "POST", "/v1/users", api, `{"anonymous":true,"version":3}`, 400, "malformed_json", nil},
		{"ErrEmptyBody", "POST", "/v1/users", api, "", 400, "malformed_json", nil},
		{"ErrUnsupportedMediaType", "POST", "/v1/users", join([]string{"Content-Type", "application/x-www-form-urlencoded"}, ts.api()), `anonymous=true`, 415, "unsupported_media_type", nil},
		{"ErrUnauthorized", "POST", "/v1/users", jsonType, `{"anonymous":true}`, 401, "unauthorized", nil},
	})
}

func TestListUsers(t *testing.T) {
	ts := setup(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, ts.signup(t).User.ID)
		if i == 1 {
			ts.clock.Advance(time.Hour)
		}
	}
	check(t, ts.do("POST", "/v1/users", `{"email":"reg@example.org","email_verified":true}`, join(jsonType, ts.api())...), 201, "")
	midway := ts.clock.Now().Add(-30 * time.Minute).Format(time.RFC3339)

	list := func(t *testing.T, query string) (got []string, next string) {
		t.Helper()
		w := ts.do("GET", "/v1/users?"+query, "", ts.api()...)
		check(t, w, 200, "")
		var page struct {
			Users []userDoc `json:"users"`
			Next  *string   `json:"next_cursor"`
		}
		decode(t, w, &page)
		if page.Users == nil {
			t.Fatalf("users is not a list: %s", w.Body)
		}
		for _, u := range page.Users {
			got = append(got, u.ID)
		}
		if page.Next != nil {
			if *page.Next == "" {
				t.Fatal(`next_cursor is "" instead of absent`)
			}
			next = *page.Next
		}
		return got, next
	}

	t.Run("OKFilters", func(t *testing.T) {
		tests := []struct {
			query string
			want  int
		}{
			{"", 6},
			{"anonymous=true", 5},
			{"anonymous=false", 1},
			{"email=REG@example.org", 1},
			{"email=nobody@example.org", 0},
			{"created_before=" + url.QueryEscape(midway), 2},
			{"created_after=" + url.QueryEscape(midway), 4},
			{"inactive_since=" + url.QueryEscape(midway), 2},
			{"anonymous=true&created_after=" + url.QueryEscape(midway), 3},
		}
		for _, tt := range tests {
			if got, _ := list(t, tt.query); len(got) != tt.want {
				t.Errorf("?%s: %d users, want %d", tt.query, len(got), tt.want)
			}
		}
	})

	t.Run("OKPages", func(t *testing.T) {
		var all []string
		query := "anonymous=true&limit=2"
		for range 5 {
			got, next := list(t, query)
			all = append(all, got...)
			if next == "" {
				break
			}
			query = "anonymous=true&limit=2&cursor=" + next
		}
		if diff := cmp.Diff(ids, all); diff != "" {
			t.Errorf("paged ids (-want +got):\n%s", diff)
		}
		if _, next := list(t, "limit=6"); next != "" {
			t.Errorf("a page holding every user has next_cursor %q", next)
		}
	})

	bad := func(name, query string) scenario {
		return scenario{name, "GET", "/v1/users?" + query, ts.api(), "", 400, "invalid", nil}
	}
	ts.run(t, []scenario{
		bad("ErrAnonymous", "anonymous=yes"),
		bad("ErrEmail", "email=nope"),
		bad("ErrCreatedAfter", "created_after=yesterday"),
		bad("ErrCreatedBefore", "created_before=2024-01-02"),
		bad("ErrInactiveSince", "inactive_since=1700000000"),
		bad("ErrLimitZero", "limit=0"),
		bad("ErrLimitTooBig", "limit="+strconv.Itoa(501)),
		bad("ErrLimitNotNumber", "limit=ten"),
		bad("ErrCursor", "cursor=not-a-cursor"),
		bad("ErrCursorNotID", "cursor="+base64.RawURLEncoding.EncodeToString([]byte("1 OR 1=1"))),
		bad("ErrUnknownParameter", "anonymus=true"),
		bad("ErrRepeated", "anonymous=true&anonymous=false"),
	})
}

func TestUserByID(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)
	path := "/v1/users/" + s.User.ID
	patch := join(mergePatchType, ts.api())
	v := ts.findUser(t, s.User.ID).Version
	etag := `"` + strconv.FormatInt(v, 10) + `"`

	ts.run(t, []scenario{
		{"GetOK", "GET", path, ts.api(), "", 200, "", []string{s.User.ID}},
		{"GetOKNotModified", "GET", path, join(ts.api(), []string{"If-None-Match", etag}), "", 304, "", nil},
		{"GetErrNotFound", "GET", "/v1/users/01900000-0000-7000-8000-000000000000", ts.api(), "", 404, "not_found", nil},
		{"GetErrNotFoundNotUUID", "GET", "/v1/users/nope", ts.api(), "", 404, "not_found", nil},
		{"PatchErrMarker", "PATCH", path, patch, `{"anonymous":false}`, 403, "forbidden", nil},
		{"PatchErrMarkerCasing", "PATCH", path, patch, `{"ANONYMOUS":false}`, 403, "forbidden", nil},
		{"PatchErrUnsupportedMediaType", "PATCH", path, join(jsonType, ts.api()), `{"data":{}}`, 415, "unsupported_media_type", nil},
		{"PatchErrPreconditionFailed", "PATCH", path, join(patch, []string{"If-Match", `"99"`}), `{"data":{"a":1}}`, 412, "precondition_failed", nil},
		{"PatchErrPreconditionListNoMatch", "PATCH", path, join(patch, []string{"If-Match", `"98", "99"`}), `{"data":{"a":1}}`, 412, "precondition_failed", nil},
		{"PatchErrNotFound", "PATCH", "/v1/users/01900000-0000-7000-8000-000000000000", patch, `{"data":{"a":1}}`, 404, "not_found", nil},
		{"PatchOK", "PATCH", path, join(patch, []string{"If-Match", etag}), `{"data":{"plan":"pro","anonymous":false}}`, 200, "", []string{`"plan":"pro"`, `"anonymous":true`}},
		{"RevokeErrNotFound", "POST", "/v1/users/01900000-0000-7000-8000-000000000000/revoke", ts.api(), "", 404, "not_found", nil},
		{"DeleteErrNotFound", "DELETE", "/v1/users/01900000-0000-7000-8000-000000000000", ts.api(), "", 404, "not_found", nil},
		{"ErrUnauthorized", "GET", path, nil, "", 401, "unauthorized", nil},
	})

	t.Run("Revoke", func(t *testing.T) {
		before := ts.findUser(t, s.User.ID).Epoch
		check(t, ts.do("POST", path+"/revoke", "", ts.api()...), 200, "", s.User.ID)
		if after := ts.findUser(t, s.User.ID).Epoch; after <= before {
			t.Fatalf("epoch %d → %d, want an increase", before, after)
		}
		check(t, ts.do("GET", "/v1/me", "", bearer(s.Token)...), 401, "unauthorized")
	})

	t.Run("Delete", func(t *testing.T) {
		check(t, ts.do("DELETE", path, "", ts.api()...), 204, "")
		check(t, ts.do("GET", path, "", ts.api()...), 404, "not_found")
		check(t, ts.do("GET", "/v1/events?type=user.deleted", "", ts.api()...), 200, "", `"reason":"admin"`)
	})
}

func TestVendToken(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)
	api := join(jsonType, ts.api())

	t.Run("OK", func(t *testing.T) {
		w := ts.do("POST", "/v1/tokens", `{"user_id":"`+s.User.ID+`","claims":{"role":"editor","n":12345678901234567},"ttl_seconds":600}`, api...)
		check(t, w, 200, "")
		var out struct {
			Token     string    `json:"token"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		decode(t, w, &out)
		c, err := ts.keys.Verify(t.Context(), out.Token, "vended")
		if err != nil {
			t.Fatal(err)
		}
		u := ts.findUser(t, s.User.ID)
		if c.Subject != u.ID || !c.Anonymous || c.Epoch != u.Epoch || c.Extra["role"] != "editor" {
			t.Errorf("claims = %+v", c)
		}
		if want := ts.clock.Now().Add(10 * time.Minute); !out.ExpiresAt.Equal(want) || !c.Expiry.Equal(want) {
			t.Errorf("expires_at = %v, exp = %v, want %v", out.ExpiresAt, c.Expiry, want)
		}
		// A vended token is not a visitor credential.
		check(t, ts.do("GET", "/v1/me", "", bearer(out.Token)...), 401, "unauthorized")
	})

	ts.run(t, []scenario{
		{"OKWithoutUser", "POST", "/v1/tokens", api, `{"claims":{"scope":"read"},"ttl_seconds":60}`, 200, "", []string{`"token"`}},
		{"ErrReservedClaim", "POST", "/v1/tokens", api, `{"claims":{"sub":"someone"},"ttl_seconds":60}`, 400, "invalid", nil},
		{"ErrReservedClaimCasing", "POST", "/v1/tokens", api, `{"claims":{"Is_Anonymous":false},"ttl_seconds":60}`, 400, "invalid", nil},
		{"ErrReservedClaimEpoch", "POST", "/v1/tokens", api, `{"claims":{"ep":99},"ttl_seconds":60}`, 400, "invalid", nil},
		{"ErrNoTTL", "POST", "/v1/tokens", api, `{"claims":{}}`, 400, "invalid", nil},
		{"ErrTTLTooLong", "POST", "/v1/tokens", api, `{"ttl_seconds":2592001}`, 400, "invalid", nil},
		{"ErrUserNotFound", "POST", "/v1/tokens", api, `{"user_id":"01900000-0000-7000-8000-000000000000","ttl_seconds":60}`, 404, "not_found", nil},
		{"ErrClaimsNotObject", "POST", "/v1/tokens", api, `{"claims":[1],"ttl_seconds":60}`, 400, "invalid", nil},
		{"ErrUnknownField", "POST", "/v1/tokens", api, `{"ttl_seconds":60,"typ":"anonymous"}`, 400, "malformed_json", nil},
		{"ErrUnauthorized", "POST", "/v1/tokens", join(jsonType, bearer(s.Token)), `{"ttl_seconds":60}`, 401, "unauthorized", nil},
	})
}

func TestEvents(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)
	ts.signup(t)
	check(t, ts.do("PATCH", "/v1/me", `{"data":{"a":1}}`, join(mergePatchType, bearer(s.Token))...), 200, "")

	ts.run(t, []scenario{
		{"OK", "GET", "/v1/events", ts.api(), "", 200, "", []string{"user.anonymous.created", "user.updated"}},
		{"OKType", "GET", "/v1/events?type=user.updated", ts.api(), "", 200, "", []string{s.User.ID}},
		{"OKUser", "GET", "/v1/events?user_id=" + s.User.ID + "&limit=500", ts.api(), "", 200, "", []string{"user.updated"}},
		{"OKSince", "GET", "/v1/events?since=2026-03-04T05:00:00Z&until=2026-03-04T06:00:00Z", ts.api(), "", 200, "", []string{"user.updated"}},
		{"ErrType", "GET", "/v1/events?type=user.exploded", ts.api(), "", 400, "invalid", nil},
		{"ErrSince", "GET", "/v1/events?since=now", ts.api(), "", 400, "invalid", nil},
		{"ErrUntil", "GET", "/v1/events?until=", ts.api(), "", 400, "invalid", nil},
		{"ErrLimit", "GET", "/v1/events?limit=-1", ts.api(), "", 400, "invalid", nil},
		{"ErrCursor", "GET", "/v1/events?cursor=!!", ts.api(), "", 400, "invalid", nil},
		{"ErrUnknownParameter", "GET", "/v1/events?kind=x", ts.api(), "", 400, "invalid", nil},
		{"ErrUnauthorized", "GET", "/v1/events", bearer(s.Token), "", 401, "unauthorized", nil},
	})

	t.Run("OKPages", func(t *testing.T) {
		seen := map[string]bool{}
		query := "limit=1"
		for range 10 {
			w := ts.do("GET", "/v1/events?"+query, "", ts.api()...)
			check(t, w, 200, "")
			var page struct {
				Events []struct {
					ID   string `json:"id"`
					Type string `json:"type"`
				} `json:"events"`
				Next string `json:"next_cursor"`
			}
			decode(t, w, &page)
			for _, e := range page.Events {
				if seen[e.ID] {
					t.Fatalf("event %s on two pages", e.ID)
				}
				seen[e.ID] = true
			}
			if page.Next == "" {
				break
			}
			query = "limit=1&cursor=" + page.Next
		}
		if len(seen) != 3 {
			t.Errorf("paged through %d events, want 3", len(seen))
		}
	})
}

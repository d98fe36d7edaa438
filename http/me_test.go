package http_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/foyerhq/foyer/token"
	"github.com/go-jose/go-jose/v4"
)

func TestGetMe(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)
	etag := `"` + strconv.FormatInt(ts.findUser(t, s.User.ID).Version, 10) + `"`

	ts.run(t, []scenario{
		{"OKCookie", "GET", "/v1/me", withCookie(s.Token), "", 200, "", []string{s.User.ID, `"anonymous":true`, `"data":{}`}},
		{"OKBearer", "GET", "/v1/me", bearer(s.Token), "", 200, "", []string{s.User.ID}},
		{"OKBearerWinsOverCookie", "GET", "/v1/me", join(bearer(s.Token), withCookie("garbage")), "", 200, "", nil},
		{"OKNotModified", "GET", "/v1/me", join(withCookie(s.Token), []string{"If-None-Match", etag}), "", 304, "", nil},
		{"OKNotModifiedWeakList", "GET", "/v1/me", join(withCookie(s.Token), []string{"If-None-Match", `"999", W/` + etag}), "", 304, "", nil},
		{"OKModified", "GET", "/v1/me", join(withCookie(s.Token), []string{"If-None-Match", `"999"`}), "", 200, "", nil},
		{"ErrNoCredential", "GET", "/v1/me", nil, "", 401, "unauthorized", nil},
		{"ErrGarbageCookie", "GET", "/v1/me", withCookie("garbage"), "", 401, "unauthorized", nil},
		{"ErrGarbageBearer", "GET", "/v1/me", bearer("a.b.c"), "", 401, "unauthorized", nil},
		{"ErrBadBearerBadCookie", "GET", "/v1/me", join([]string{"Authorization", "Basic Zm9vOmJhcg=="}, withCookie(s.Token)), "", 401, "unauthorized", nil},
		{"ErrAPIKey", "GET", "/v1/me", ts.api(), "", 401, "unauthorized", nil},
		{"ErrCookieOfOtherName", "GET", "/v1/me", []string{"Cookie", "foyer_anon=" + s.Token}, "", 401, "unauthorized", nil},
	})

	t.Run("OKETag", func(t *testing.T) {
		w := ts.do("GET", "/v1/me", "", withCookie(s.Token)...)
		if got := w.Header().Get("ETag"); got != etag {
			t.Errorf("ETag = %q, want %q", got, etag)
		}
		var doc map[string]any
		decode(t, w, &doc)
		for _, hidden := range []string{"version", "epoch", "has_password", "Version", "Epoch"} {
			if _, ok := doc[hidden]; ok {
				t.Errorf("user document shows %q: %s", hidden, w.Body)
			}
		}
	})
}

// TestTokenRefused checks that GET /v1/me refuses every token it must
// (DESIGN §2.5): the keyring, the epoch and the stored user all decide.
func TestTokenRefused(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)
	u := ts.findUser(t, s.User.ID)
	now := ts.clock.Now()
	kid := ts.keys.Keys()[0].ID

	valid := func() map[string]any {
		return map[string]any{
			"iss": testIssuer, "aud": []string{testAudience}, "sub": u.ID,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "x",
			"typ": token.TypeAnonymous, "is_anonymous": true, "ep": u.Epoch,
		}
	}
	sign := func(t *testing.T, c *token.Claims) string {
		t.Helper()
		raw, err := ts.keys.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	anon := func() *token.Claims {
		return &token.Claims{Subject: u.ID, Expiry: now.Add(time.Hour), Type: token.TypeAnonymous, Anonymous: true, Epoch: u.Epoch}
	}

	// An unsigned token (alg none) with the real key id.
	none := b64(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + b64(valid()) + "."
	// A token signed by another key that claims the real key id.
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: otherKey}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(valid())
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := jws.CompactSerialize()
	// The real key, but another audience.
	otherCfg := ts.keyConfig
	otherCfg.Audience = "another-app"
	otherRing := token.NewKeyring(ts.signingKeys, otherCfg)
	if err := otherRing.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	wrongAud, err := otherRing.Sign(anon())
	if err != nil {
		t.Fatal(err)
	}
	expired := anon()
	expired.IssuedAt, expired.Expiry = now.Add(-2*time.Hour), now.Add(-time.Hour)
	vended := anon()
	vended.Type = token.TypeVended
	oldEpoch := anon()
	oldEpoch.Epoch = u.Epoch - 1
	// A registered-user token type for an anonymous account with no
	// session behind it.
	access := anon()
	access.Type, access.SessionID = token.TypeAccess, "01900000-0000-7000-8000-000000000000"
	// A vended token about the visitor whose custom claims hold a nested
	// "typ" of the anonymous type.
	nestedType := anon()
	nestedType.Type = token.TypeVended
	nestedType.Extra = map[string]any{"meta": map[string]any{"typ": token.TypeAnonymous}}

	tokens := []struct {
		name string
		raw  string
	}{
		{"ErrAlgNone", none},
		{"ErrOtherKey", forged},
		{"ErrWrongAudience", wrongAud},
		{"ErrExpired", sign(t, expired)},
		{"ErrWrongType", sign(t, vended)},
		{"ErrOldEpoch", sign(t, oldEpoch)},
		{"ErrNoSession", sign(t, access)},
		{"ErrNestedType", sign(t, nestedType)},
		{"ErrTampered", s.Token[:strings.LastIndexByte(s.Token, '.')] + ".AAAA"},
	}
	for _, tt := range tokens {
		t.Run(tt.name, func(t *testing.T) {
			check(t, ts.do("GET", "/v1/me", "", bearer(tt.raw)...), 401, "unauthorized")
			check(t, ts.do("GET", "/v1/me", "", withCookie(tt.raw)...), 401, "unauthorized")
		})
	}

	t.Run("ErrEpochBumped", func(t *testing.T) {
		// The token was verified, and its verification remembered, just
		// before: revocation still takes effect at once.
		ts := setup(t)
		s := ts.signup(t)
		check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 200, "")
		check(t, ts.do("POST", "/v1/users/"+s.User.ID+"/revoke", "", ts.api()...), 200, "")
		check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 401, "unauthorized")
	})

	t.Run("ErrUserDeleted", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		check(t, ts.do("GET", "/v1/me", "", bearer(s.Token)...), 200, "")
		check(t, ts.do("DELETE", "/v1/users/"+s.User.ID, "", ts.api()...), 204, "")
		check(t, ts.do("GET", "/v1/me", "", bearer(s.Token)...), 401, "unauthorized")
	})

	t.Run("ErrExpiredByClock", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 200, "")
		ts.clock.Advance(foyerhttp.DefaultAnonymousTTL)
		check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 401, "unauthorized")
	})
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestRenewal(t *testing.T) {
	t.Run("OKCookie", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		ts.clock.Advance(foyerhttp.DefaultRenewAfter - time.Second)
		w := ts.do("GET", "/v1/me", "", withCookie(s.Token)...)
		check(t, w, 200, "")
		if c := w.Header().Get("Set-Cookie"); c != "" {
			t.Fatalf("renewed a young token: %s", c)
		}
		ts.clock.Advance(time.Second)
		w = ts.do("GET", "/v1/me", "", withCookie(s.Token)...)
		check(t, w, 200, "")
		c := cookie(w, cookieName)
		if c == nil || c.Value == s.Token {
			t.Fatalf("no renewed cookie: %v", w.Header()["Set-Cookie"])
		}
		claims, err := ts.keys.Verify(t.Context(), c.Value, token.TypeAnonymous)
		if err != nil {
			t.Fatal(err)
		}
		if want := ts.clock.Now().Add(foyerhttp.DefaultAnonymousTTL); !claims.Expiry.Equal(want) || claims.Subject != s.User.ID {
			t.Errorf("renewed claims %+v, want sub %s exp %v", claims, s.User.ID, want)
		}
		if w.Header().Get("Foyer-Token") != "" {
			t.Error("cookie client got a Foyer-Token header")
		}
	})

	t.Run("OKBearer", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		ts.clock.Advance(foyerhttp.DefaultRenewAfter)
		w := ts.do("GET", "/v1/me", "", bearer(s.Token)...)
		check(t, w, 200, "")
		raw := w.Header().Get("Foyer-Token")
		if raw == "" || w.Header().Get("Set-Cookie") != "" {
			t.Fatalf("Foyer-Token = %q, Set-Cookie = %q; want a token header only", raw, w.Header().Get("Set-Cookie"))
		}
		check(t, ts.do("GET", "/v1/me", "", bearer(raw)...), 200, "")
	})
}

func TestActivity(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)
	created := ts.findUser(t, s.User.ID).LastSeenAt

	ts.clock.Advance(foyerhttp.DefaultActivityGranularity)
	check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 200, "")
	if got := ts.findUser(t, s.User.ID).LastSeenAt; !got.Equal(created) {
		t.Fatalf("last_seen_at = %v, want unchanged %v within the granularity", got, created)
	}
	ts.clock.Advance(time.Second)
	w := ts.do("GET", "/v1/me", "", withCookie(s.Token)...)
	check(t, w, 200, "")
	now := ts.clock.Now()
	if got := ts.findUser(t, s.User.ID).LastSeenAt; !got.Equal(now) {
		t.Fatalf("last_seen_at = %v, want %v after the granularity", got, now)
	}
	var doc userDoc
	decode(t, w, &doc)
	if !doc.LastSeenAt.Equal(now) {
		t.Errorf("response last_seen_at = %v, want %v", doc.LastSeenAt, now)
	}
}

func TestPatchMe(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		ts := setup(t)
		s := ts.signup(t)
		before := ts.findUser(t, s.User.ID)
		w := ts.do("PATCH", "/v1/me", `{"data":{"theme":"dark","n":1}}`, join(mergePatchType, withCookie(s.Token))...)
		check(t, w, 200, "", `"theme":"dark"`)
		w = ts.do("PATCH", "/v1/me", `{"data":{"n":null,"cart":[1]}}`, join(mergePatchType, bearer(s.Token), []string{"If-Match", `"` + strconv.FormatInt(before.Version+1, 10) + `"`})...)
		check(t, w, 200, "")
		after := ts.findUser(t, s.User.ID)
		if got, want := string(after.Data), `{"cart":[1],"theme":"dark"}`; got != want {
			t.Errorf("data = %s, want %s", got, want)
		}
		if got, want := w.Header().Get("ETag"), `"`+strconv.FormatInt(after.Version, 10)+`"`; got != want || after.Version <= before.Version {
			t.Errorf("ETag = %s, want %s (a new version)", got, want)
		}
		var doc userDoc
		decode(t, w, &doc)
		if string(doc.Data) != string(after.Data) {
			t.Errorf("response data %s, stored %s", doc.Data, after.Data)
		}
		check(t, ts.do("PATCH", "/v1/me", `{"data":null}`, join(mergePatchType, bearer(s.Token), []string{"If-Match", "*"})...), 200, "", `"data":{}`)
	})

	ts := setup(t)
	s := ts.signup(t)
	auth := join(mergePatchType, withCookie(s.Token))
	v := ts.findUser(t, s.User.ID).Version
	stale := []string{"If-Match", `"` + strconv.FormatInt(v+7, 10) + `"`}
	current := []string{"If-Match", `"` + strconv.FormatInt(v, 10) + `"`}
	big := `{"data":{"x":"` + strings.Repeat("a", foyerhttp.DefaultMaxBodyBytes) + `"}}`
	ts.run(t, []scenario{
		// DESIGN §2.1: no patch, key casing or nesting reaches a marker.
		{"ErrMarker", "PATCH", "/v1/me", auth, `{"anonymous":false}`, 403, "forbidden", nil},
		{"ErrMarkerCasing", "PATCH", "/v1/me", auth, `{"Anonymous":false}`, 403, "forbidden", nil},
		{"ErrMarkerBesideData", "PATCH", "/v1/me", auth, `{"data":{"a":1},"email_verified":true}`, 403, "forbidden", nil},
		{"ErrID", "PATCH", "/v1/me", auth, `{"id":"01900000-0000-7000-8000-000000000000"}`, 403, "forbidden", nil},
		{"ErrUnsupportedMediaType", "PATCH", "/v1/me", join(jsonType, withCookie(s.Token)), `{"data":{"a":1}}`, 415, "unsupported_media_type", nil},
		{"ErrNoContentType", "PATCH", "/v1/me", withCookie(s.Token), `{"data":{"a":1}}`, 415, "unsupported_media_type", nil},
		{"ErrTooLarge", "PATCH", "/v1/me", auth, big, 413, "payload_too_large", nil},
		{"ErrMalformedJSON", "PATCH", "/v1/me", auth, `{"data":{`, 400, "malformed_json", nil},
		{"ErrTrailingData", "PATCH", "/v1/me", auth, `{"data":{}}{}`, 400, "malformed_json", nil},
		{"ErrDataNotObject", "PATCH", "/v1/me", auth, `{"data":[1]}`, 400, "invalid", nil},
		{"ErrPreconditionFailed", "PATCH", "/v1/me", join(auth, stale), `{"data":{"a":1}}`, 412, "precondition_failed", nil},
		{"ErrPreconditionWeak", "PATCH", "/v1/me", join(auth, []string{"If-Match", "W/" + current[1]}), `{"data":{"a":1}}`, 412, "precondition_failed", nil},
		{"ErrPreconditionList", "PATCH", "/v1/me", join(auth, []string{"If-Match", `"998", "999"`}), `{"data":{"a":1}}`, 412, "precondition_failed", nil},
		{"ErrCrossOriginCookie", "PATCH", "/v1/me", join(auth, crossOrigin), `{"data":{"a":1}}`, 403, "forbidden", nil},
		{"ErrUnauthorized", "PATCH", "/v1/me", mergePatchType, `{"data":{"a":1}}`, 401, "unauthorized", nil},
	})

	t.Run("NothingHalfWritten", func(t *testing.T) {
		u := ts.findUser(t, s.User.ID)
		if u.Version != v || string(u.Data) != "{}" || !u.Anonymous {
			t.Fatalf("refused patches changed the user: version %d→%d, data %s, anonymous %v", v, u.Version, u.Data, u.Anonymous)
		}
	})

	t.Run("OKMarkerInsideDataIsOnlyData", func(t *testing.T) {
		w := ts.do("PATCH", "/v1/me", `{"data":{"anonymous":false,"Anonymous":false,"email_verified":true}}`, join(auth, current)...)
		check(t, w, 200, "", `"anonymous":true`)
		u := ts.findUser(t, s.User.ID)
		if !u.Anonymous || u.EmailVerified {
			t.Fatalf("data keys changed a marker: %+v", u)
		}
	})

	t.Run("OKIfMatchList", func(t *testing.T) {
		v := ts.findUser(t, s.User.ID).Version
		w := ts.do("PATCH", "/v1/me", `{"data":{"b":2}}`, join(auth, []string{"If-Match", `"999", "` + strconv.FormatInt(v, 10) + `"`})...)
		check(t, w, 200, "", `"b":2`)
	})

	t.Run("OKCrossOriginBearer", func(t *testing.T) {
		check(t, ts.do("PATCH", "/v1/me", `{"data":{"c":3}}`, join(mergePatchType, bearer(s.Token), crossOrigin)...), 200, "")
		check(t, ts.do("PATCH", "/v1/me", `{"data":{"c":4}}`, join(auth, []string{"Sec-Fetch-Site", "same-origin"})...), 200, "")
	})
}

func TestDeleteMe(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)
	check(t, ts.do("DELETE", "/v1/me", "", join(withCookie(s.Token), crossOrigin)...), 403, "forbidden")

	w := ts.do("DELETE", "/v1/me", "", withCookie(s.Token)...)
	check(t, w, 204, "")
	if c := cookie(w, cookieName); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("cookie not cleared: %v", w.Header()["Set-Cookie"])
	}
	if _, err := ts.users.FindUserByID(t.Context(), s.User.ID); foyer.ErrorCode(err) != foyer.ENotFound {
		t.Fatalf("user still there: %v", err)
	}
	check(t, ts.do("GET", "/v1/me", "", withCookie(s.Token)...), 401, "unauthorized")
	check(t, ts.do("DELETE", "/v1/me", "", withCookie(s.Token)...), 401, "unauthorized")

	w = ts.do("GET", "/v1/events?type=user.deleted&user_id="+s.User.ID, "", ts.api()...)
	check(t, w, 200, "", `"reason":"self"`)
}

// TestAtomic checks DESIGN §2.7 and §2.10 through the API: when the store
// cannot record the event of a change, the change is not made either.
func TestAtomic(t *testing.T) {
	ts := setup(t)
	s := ts.signup(t)
	before := ts.findUser(t, s.User.ID)
	raw, err := sql.Open("sqlite", ts.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(t.Context(), "DROP TABLE events"); err != nil {
		t.Fatal(err)
	}

	check(t, ts.do("PATCH", "/v1/me", `{"data":{"a":1}}`, join(mergePatchType, bearer(s.Token))...), 500, "internal")
	after := ts.findUser(t, s.User.ID)
	if after.Version != before.Version || string(after.Data) != string(before.Data) {
		t.Fatalf("failed patch changed the user: %+v → %+v", before, after)
	}
	check(t, ts.do("POST", "/v1/anonymous", ""), 500, "internal")
	check(t, ts.do("DELETE", "/v1/me", "", bearer(s.Token)...), 500, "internal")
	if n := countUsers(t, ts); n != 1 {
		t.Fatalf("%d users after failed writes, want 1", n)
	}
}

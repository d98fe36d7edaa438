package http

// These tests are inside the package: they hold the hand-written fast
// paths of the busiest answers to what net/http and encoding/json write
// for the same values.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/token"
)

// marshalUser is what writeJSON wrote for a user document before the fast
// path: json.Marshal of userDoc(u).
func marshalUser(u *foyer.User) ([]byte, error) {
	c := *u
	return json.Marshal(userDoc(&c))
}

// FuzzAppendUser checks that appendUser writes exactly what json.Marshal
// writes for the same user, and fails exactly when it fails.
func FuzzAppendUser(f *testing.F) {
	for _, seed := range []struct {
		id, email, pending string
		data               string
		created, updated   int64
		converted          int64
		anonymous          bool
	}{
		{"0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", "", "", `{}`, 1772600767123456789, 1772600767123000000, 0, true},
		{"0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", "ana@example.com", "", `{"bench":12345}`, 1772600767000000000, 1772600767100000000, 1772600767000000001, false},
		{"0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", "", "b@example.com", `{"a": "b c", "d":[1, 2]}`, 1, 2, 0, true},
		{"id", "zoë@exämple.com", "<script>&", `{"html":"<b>&amp;</b>","sep":"\u2028 \u2029"}`, 0, -1, 0, true},
		{"\"quoted\"\\", "tab\there", "nl\n", "{\"raw\":\"\xe2\x80\xa8\"}", 253402300799999999, 253402300800000000, 0, false},
		{"bad\xffutf8", "", "", "{\"k\":\"\xff\"}", -62135596800000000, -62135596801000000, 0, true},
		{"", "", "", ``, 0, 0, 0, false},
		{"", "", "", `null`, 0, 0, 0, false},
		{"", "", "", `{"unterminated":`, 0, 0, 0, false},
		{"", "", "", `{"a":1} {"b":2}`, 0, 0, 0, false},
		{"", "", "", "{\"esc\":\"\\\"\\\\\",\"x\" :1}", 0, 0, 0, false},
		{"", "", "", "\t{\"a\":1}\n", 0, 0, 0, false},
	} {
		f.Add(seed.id, seed.email, seed.pending, []byte(seed.data), seed.created, seed.updated, seed.converted, seed.anonymous)
	}
	f.Fuzz(func(t *testing.T, id, email, pending string, data []byte, created, updated, converted int64, anonymous bool) {
		u := &foyer.User{
			ID:            id,
			Anonymous:     anonymous,
			Email:         email,
			EmailVerified: !anonymous,
			PendingEmail:  pending,
			Data:          data,
			CreatedAt:     time.Unix(0, created).UTC(),
			UpdatedAt:     time.Unix(0, updated).In(time.FixedZone("", 3600)),
			LastSeenAt:    time.Unix(created/1e9, 0),
		}
		if converted != 0 {
			c := time.Unix(0, converted).UTC()
			u.ConvertedAt = &c
		}
		want, wantErr := marshalUser(u)
		got, err := appendUser([]byte("prefix"), u)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("appendUser error %v, json.Marshal error %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("appendUser wrote\n%s\njson.Marshal writes\n%s", got[len("prefix"):], want)
		}
	})
}

func TestAppendAnonymousResponse(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	u := &foyer.User{ID: "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", Anonymous: true, CreatedAt: now, UpdatedAt: now, LastSeenAt: now}
	raw := "eyJhbGciOiJFUzI1NiJ9.eyJ0eXAiOiJhbm9ueW1vdXMifQ.c2ln"
	exp := now.Add(DefaultAnonymousTTL)
	c := *u
	want, err := json.Marshal(anonymousResponse{User: userDoc(&c), Token: raw, ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	got, err := appendAnonymousResponse(nil, u, raw, exp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSetAnonymousCookie(t *testing.T) {
	for _, public := range []string{"https://foyer.test", "http://localhost:8080"} {
		u, _ := url.Parse(public)
		s := NewServer(Config{PublicURL: u, AnonymousTTL: 90 * 24 * time.Hour}, Deps{}, nil, nil)
		for _, raw := range []string{
			"eyJhbGciOiJFUzI1NiJ9.eyJ0eXAiOiJhbm9ueW1vdXMifQ.c2l-_g",
			"with space",
			"comma,value",
			"",
		} {
			t.Run(public+"/"+raw, func(t *testing.T) {
				w := httptest.NewRecorder()
				s.setAnonymousCookie(w, raw)
				c := s.anonymousCookie()
				c.Value = raw
				want := httptest.NewRecorder()
				http.SetCookie(want, c)
				if got, want := w.Header().Values("Set-Cookie"), want.Header().Values("Set-Cookie"); !equalStrings(got, want) {
					t.Fatalf("Set-Cookie %q, want %q", got, want)
				}
			})
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPeekType(t *testing.T) {
	enc := func(payload string) string {
		return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	}
	tests := []struct {
		name    string
		raw     string
		want    string
		comment string
	}{
		{"OKAnonymous", enc(`{"iss":"https://foyer.test","sub":"u","typ":"anonymous","is_anonymous":true,"ep":0}`), token.TypeAnonymous, ""},
		{"OKAccess", enc(`{"sub":"u","typ":"access","sid":"s"}`), token.TypeAccess, ""},
		{"OKSession", enc(`{"typ":"session"}`), token.TypeSession, ""},
		{"OKVended", enc(`{"typ":"vended","x":1}`), token.TypeVended, ""},
		{"OKSpaced", enc(`{"typ" : "access"}`), token.TypeAccess, "decoded"},
		{"OKEscapedName", enc(`{"t\u0079p":"access"}`), token.TypeAccess, "decoded"},
		{"OKUnknownType", enc(`{"typ":"anonymousX"}`), "anonymousX", "decoded"},
		{"OKNestedAndTop", enc(`{"meta":{"typ":"anonymous"},"typ":"vended"}`), token.TypeVended, "two members called typ: decoded"},
		{"OKInString", enc(`{"note":"\"typ\":\"anonymous\"","typ":"vended"}`), token.TypeVended, "an escaped quote is no member"},
		{"ErrNoType", enc(`{"sub":"u"}`), "", ""},
		{"ErrNotJSON", enc(`not json`), "", ""},
		{"ErrNotBase64", "a.%%%.c", "", ""},
		{"ErrOneSegment", "abc", "", ""},
		{"ErrTwoSegments", "a.b", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := peekType(tt.raw); got != tt.want {
				t.Fatalf("peekType=%q, want %q (%s)", got, tt.want, tt.comment)
			}
		})
	}
}

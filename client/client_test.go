package client_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/client"
	"github.com/foyerhq/foyer/token"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignoreTimes leaves server-set times out of user comparisons.
var ignoreTimes = cmpopts.IgnoreFields(foyer.User{}, "CreatedAt", "UpdatedAt", "LastSeenAt", "ConvertedAt")

func TestCreateUser(t *testing.T) {
	f := setup(t)
	c := f.client()
	tests := []struct {
		name     string
		c        *client.Client
		in       foyer.User
		want     foyer.User // ID and Version are checked apart
		wantCode string
	}{
		{"OKAnonymous", c, foyer.User{Anonymous: true, Data: json.RawMessage(`{"from":"import"}`)}, foyer.User{Anonymous: true, Data: json.RawMessage(`{"from":"import"}`)}, ""},
		{"OKAnonymousWithoutData", c, foyer.User{Anonymous: true}, foyer.User{Anonymous: true, Data: json.RawMessage(`{}`)}, ""},
		{"OKRegistered", c, foyer.User{Email: " Ann@Example.ORG ", EmailVerified: true}, foyer.User{Email: "ann@example.org", EmailVerified: true, Data: json.RawMessage(`{}`)}, ""},
		{"ErrConflict", c, foyer.User{Email: "ann@example.org", EmailVerified: true}, foyer.User{}, foyer.EConflict},
		{"ErrNotVouched", c, foyer.User{Email: "bob@example.org"}, foyer.User{}, foyer.EInvalid},
		{"ErrBadEmail", c, foyer.User{Email: "not an address", EmailVerified: true}, foyer.User{}, foyer.EInvalid},
		{"ErrDataNotObject", c, foyer.User{Anonymous: true, Data: json.RawMessage(`[1]`)}, foyer.User{}, foyer.EInvalid},
		{"ErrUnauthorized", client.New(f.URL, "foyer_sk_wrong"), foyer.User{Anonymous: true}, foyer.User{}, foyer.EUnauthorized},
		{"ErrNoKey", client.New(f.URL, ""), foyer.User{Anonymous: true}, foyer.User{}, foyer.EUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.in
			err := tt.c.CreateUser(t.Context(), &u)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				if diff := cmp.Diff(tt.in, u); diff != "" {
					t.Fatalf("failed CreateUser changed the user (-before +after):\n%s", diff)
				}
				return
			}
			if u.ID == "" || u.Version == 0 || u.CreatedAt.IsZero() {
				t.Fatalf("CreateUser did not fill in ID, Version, CreatedAt: %+v", u)
			}
			tt.want.ID, tt.want.Version = u.ID, u.Version
			if diff := cmp.Diff(tt.want, u, ignoreTimes); diff != "" {
				t.Fatalf("user (-want +got):\n%s", diff)
			}
			got, err := c.GetUser(t.Context(), u.ID)
			if err != nil {
				t.Fatalf("GetUser: %v", err)
			}
			if diff := cmp.Diff(&u, got); diff != "" {
				t.Fatalf("stored user (-created +read):\n%s", diff)
			}
		})
	}
}

func TestGetUser(t *testing.T) {
	f := setup(t)
	c := f.client()
	u := &foyer.User{Anonymous: true, Data: json.RawMessage(`{"cart":[1,2]}`)}
	if err := c.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		id       string
		wantCode string
	}{
		{"OK", u.ID, ""},
		{"ErrNotFound", "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", foyer.ENotFound},
		{"ErrNotFoundNotUUID", "../api-keys", foyer.ENotFound},
		{"ErrNotFoundEmpty", "", foyer.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.GetUser(t.Context(), tt.id)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				if got != nil {
					t.Fatalf("GetUser returned %+v with an error", got)
				}
				return
			}
			if diff := cmp.Diff(u, got); diff != "" {
				t.Fatalf("user (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateUser(t *testing.T) {
	f := setup(t)
	c := f.client()
	u := &foyer.User{Anonymous: true, Data: json.RawMessage(`{"a":1,"b":{"c":2}}`)}
	if err := c.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	stale := u.Version
	tests := []struct {
		name     string
		id       string
		upd      foyer.UserUpdate
		wantData string
		wantCode string
	}{
		{"OK", u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"b":{"c":null,"d":3},"e":"x"}`)}, `{"a":1,"b":{"d":3},"e":"x"}`, ""},
		{"OKIfMatch", u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"a":2}`), IfVersion: ptr(stale + 1)}, `{"a":2,"b":{"d":3},"e":"x"}`, ""},
		{"OKNoPatch", u.ID, foyer.UserUpdate{}, `{"a":2,"b":{"d":3},"e":"x"}`, ""},
		{"OKReset", u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`null`)}, `{}`, ""},
		{"ErrPreconditionFailed", u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"a":3}`), IfVersion: &stale}, "", foyer.EPreconditionFailed},
		{"ErrInvalid", u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`[1]`)}, "", foyer.EInvalid},
		{"ErrMalformedJSON", u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{`)}, "", foyer.EInternal},
		{"ErrNotFound", "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", foyer.UserUpdate{DataPatch: json.RawMessage(`{}`)}, "", foyer.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.UpdateUser(t.Context(), tt.id, tt.upd)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if string(got.Data) != tt.wantData {
				t.Fatalf("data %s, want %s", got.Data, tt.wantData)
			}
			read, err := c.GetUser(t.Context(), tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if read.Version != got.Version || string(read.Data) != tt.wantData {
				t.Fatalf("read version %d data %s, updated version %d data %s", read.Version, read.Data, got.Version, tt.wantData)
			}
		})
	}
}

func TestDeleteUser(t *testing.T) {
	f := setup(t)
	c := f.client()
	u := &foyer.User{Anonymous: true}
	if err := c.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		id       string
		wantCode string
	}{
		{"OK", u.ID, ""},
		{"ErrNotFoundTwice", u.ID, foyer.ENotFound},
		{"ErrNotFoundEmpty", "", foyer.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, c.DeleteUser(t.Context(), tt.id), tt.wantCode)
			_, err := c.GetUser(t.Context(), u.ID)
			wantCode(t, err, foyer.ENotFound)
		})
	}
	t.Run("OKEvent", func(t *testing.T) {
		page, err := c.ListEvents(t.Context(), client.EventFilter{Type: ptr(foyer.EventUserDeleted), UserID: &u.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 1 || !strings.Contains(string(page.Events[0].Data), `"reason":"admin"`) {
			t.Fatalf("user.deleted events %+v, want one with reason admin", page.Events)
		}
	})
}

func TestRevokeUser(t *testing.T) {
	f := setup(t)
	c := f.client()
	a, err := c.CreateAnonymousUser(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		id       string
		wantCode string
	}{
		{"OK", a.User.ID, ""},
		{"ErrNotFound", "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", foyer.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := c.RevokeUser(t.Context(), tt.id)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if u.ID != tt.id {
				t.Fatalf("revoked %s, want %s", u.ID, tt.id)
			}
			// Foyer refuses the token at once; a local verifier cannot know.
			_, err = c.Me(t.Context(), a.Token)
			wantCode(t, err, foyer.EUnauthorized)
			if _, err := f.verifier().Verify(t.Context(), a.Token, token.TypeAnonymous); err != nil {
				t.Fatalf("local Verify of a revoked, unexpired token: %v", err)
			}
		})
	}
}

func TestListUsers(t *testing.T) {
	f := setup(t)
	c := f.client()
	var anonymous []*foyer.User
	for i := range 5 {
		u := &foyer.User{Anonymous: true, Data: json.RawMessage(`{"n":` + string(rune('0'+i)) + `}`)}
		if err := c.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		u.Version = 0 // lists carry no versions
		anonymous = append(anonymous, u)
		f.Clock.Advance(time.Second)
	}
	registered := &foyer.User{Email: "ann@example.org", EmailVerified: true}
	if err := c.CreateUser(t.Context(), registered); err != nil {
		t.Fatal(err)
	}
	registered.Version = 0
	all := append(slices.Clone(anonymous), registered)
	created := func(i int) *time.Time { return ptr(anonymous[i].CreatedAt) }

	tests := []struct {
		name     string
		filter   client.UserFilter
		want     []*foyer.User
		wantCode string
	}{
		{"OKAll", client.UserFilter{}, all, ""},
		{"OKAnonymous", client.UserFilter{Anonymous: ptr(true)}, anonymous, ""},
		{"OKRegistered", client.UserFilter{Anonymous: ptr(false)}, all[5:], ""},
		{"OKEmail", client.UserFilter{Email: ptr("ANN@example.org")}, all[5:], ""},
		{"OKCreatedAfter", client.UserFilter{Anonymous: ptr(true), CreatedAfter: created(2)}, anonymous[3:], ""},
		{"OKCreatedBefore", client.UserFilter{CreatedBefore: created(2)}, anonymous[:2], ""},
		{"OKInactiveSince", client.UserFilter{InactiveSince: created(1)}, anonymous[:1], ""},
		{"OKPaged", client.UserFilter{Limit: 2}, all, ""},
		{"ErrInvalidCursor", client.UserFilter{Cursor: "nope"}, nil, foyer.EInvalid},
		{"ErrInvalidLimit", client.UserFilter{Limit: foyer.MaxPageSize + 1}, nil, foyer.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []*foyer.User
			for u, err := range c.AllUsers(t.Context(), tt.filter) {
				if err != nil {
					wantCode(t, err, tt.wantCode)
					return
				}
				got = append(got, u)
			}
			wantCode(t, nil, tt.wantCode)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("users (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("OKPages", func(t *testing.T) {
		var pages [][]*foyer.User
		f := client.UserFilter{Limit: 4}
		for {
			page, err := c.ListUsers(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, page.Users)
			if page.NextCursor == "" {
				break
			}
			f.Cursor = page.NextCursor
		}
		if diff := cmp.Diff([][]*foyer.User{all[:4], all[4:]}, pages); diff != "" {
			t.Fatalf("pages (-want +got):\n%s", diff)
		}
	})

	t.Run("OKStopEarly", func(t *testing.T) {
		n := 0
		for _, err := range c.AllUsers(t.Context(), client.UserFilter{Limit: 1}) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 2 {
				break
			}
		}
		if n != 2 {
			t.Fatalf("iterated %d users, want 2", n)
		}
	})
}

func TestConvertUser(t *testing.T) {
	f := setup(t)
	c := f.client()
	visitor := &foyer.User{Anonymous: true, Data: json.RawMessage(`{"cart":[7]}`)}
	owner := &foyer.User{Email: "owner@example.org", EmailVerified: true}
	for _, u := range []*foyer.User{visitor, owner} {
		if err := c.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		id       string
		email    string
		wantCode string
	}{
		{"OK", visitor.ID, "Visitor@Example.org", ""},
		{"OKAddressWithAccount", visitor.ID, "owner@example.org", ""},
		{"ErrInvalid", visitor.ID, "not an address", foyer.EInvalid},
		{"ErrConflict", owner.ID, "new@example.org", foyer.EConflict},
		{"ErrNotFound", "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", "x@example.org", foyer.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp, err := c.ConvertUser(t.Context(), tt.id, tt.email)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if !exp.After(f.Clock.Now()) {
				t.Fatalf("link expires at %v, before now", exp)
			}
			u, err := c.GetUser(t.Context(), tt.id)
			if err != nil {
				t.Fatal(err)
			}
			// Pending only: nothing changes until the link is redeemed.
			if !u.Anonymous || u.Email != "" || u.PendingEmail != strings.ToLower(tt.email) {
				t.Fatalf("user after conversion request %+v", u)
			}
		})
	}
}

func TestConvertUserVerified(t *testing.T) {
	f := setup(t)
	c := f.client()
	a, err := c.CreateAnonymousUser(t.Context(), json.RawMessage(`{"level":3}`))
	if err != nil {
		t.Fatal(err)
	}
	taken := &foyer.User{Email: "taken@example.org", EmailVerified: true}
	if err := c.CreateUser(t.Context(), taken); err != nil {
		t.Fatal(err)
	}
	other := &foyer.User{Anonymous: true}
	if err := c.CreateUser(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		id       string
		email    string
		wantCode string
	}{
		{"OK", a.User.ID, "Player@Example.org", ""},
		{"ErrConflictAlreadyRegistered", a.User.ID, "again@example.org", foyer.EConflict},
		{"ErrIdentifierTaken", other.ID, "taken@example.org", foyer.EIdentifierTaken},
		{"ErrInvalid", other.ID, "nope", foyer.EInvalid},
		{"ErrNotFound", "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", "x@example.org", foyer.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := c.ConvertUserVerified(t.Context(), tt.id, tt.email)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			want := foyer.User{ID: tt.id, Email: "player@example.org", EmailVerified: true, Data: json.RawMessage(`{"level":3}`), Version: u.Version}
			if diff := cmp.Diff(&want, u, ignoreTimes); diff != "" || u.ConvertedAt == nil {
				t.Fatalf("converted user (-want +got):\n%s converted_at %v", diff, u.ConvertedAt)
			}
			// Conversion bumps the epoch: the anonymous token is dead.
			_, err = c.Me(t.Context(), a.Token)
			wantCode(t, err, foyer.EUnauthorized)
		})
	}
}

func TestFindAlias(t *testing.T) {
	f := setup(t)
	c := f.client()
	anon := &foyer.User{Anonymous: true, Data: json.RawMessage(`{"watched":4}`)}
	into := &foyer.User{Email: "ann@example.org", EmailVerified: true}
	for _, u := range []*foyer.User{anon, into} {
		if err := c.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	// The owner signed in and confirmed the merge.
	if _, err := f.Merges.MergeUsers(t.Context(), anon.ID, into.ID, foyer.MergeRegisteredWins); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		id       string
		want     *foyer.Alias
		wantCode string
	}{
		{"OK", anon.ID, &foyer.Alias{From: anon.ID, Into: into.ID}, ""},
		{"ErrNotFoundNeverMerged", into.ID, nil, foyer.ENotFound},
		{"ErrNotFound", "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", nil, foyer.ENotFound},
		{"ErrNotFoundEmpty", "", nil, foyer.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.FindAlias(t.Context(), tt.id)
			wantCode(t, err, tt.wantCode)
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(foyer.Alias{}, "CreatedAt")); diff != "" {
				t.Fatalf("alias (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVendToken(t *testing.T) {
	f := setup(t)
	c := f.client()
	u := &foyer.User{Anonymous: true}
	if err := c.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	v := f.verifier()
	tests := []struct {
		name     string
		in       client.VendRequest
		want     *token.Claims // checked apart: ID, IssuedAt, Expiry
		wantCode string
	}{
		{"OK", client.VendRequest{Claims: map[string]any{"plan": "pro", "seats": 3.0}, TTL: time.Hour},
			&token.Claims{Issuer: f.URL, Audience: []string{f.URL}, Type: token.TypeVended, Extra: map[string]any{"plan": "pro", "seats": 3.0}}, ""},
		{"OKAboutUser", client.VendRequest{UserID: u.ID, TTL: time.Minute},
			&token.Claims{Issuer: f.URL, Audience: []string{f.URL}, Subject: u.ID, Anonymous: true, Type: token.TypeVended}, ""},
		{"ErrReservedClaim", client.VendRequest{Claims: map[string]any{"Sub": "x"}, TTL: time.Hour}, nil, foyer.EInvalid},
		{"ErrTTLTooShort", client.VendRequest{TTL: time.Millisecond}, nil, foyer.EInvalid},
		{"ErrTTLTooLong", client.VendRequest{TTL: 10000 * time.Hour}, nil, foyer.EInvalid},
		{"ErrNotFound", client.VendRequest{UserID: "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", TTL: time.Hour}, nil, foyer.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vt, err := c.VendToken(t.Context(), tt.in)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if want := f.Clock.Now().Add(tt.in.TTL); !vt.ExpiresAt.Equal(want) {
				t.Fatalf("ExpiresAt %v, want %v", vt.ExpiresAt, want)
			}
			got, err := v.Verify(t.Context(), vt.Token, token.TypeVended)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(token.Claims{}, "ID", "IssuedAt", "Expiry")); diff != "" {
				t.Fatalf("claims (-want +got):\n%s", diff)
			}
			// A vended token is no visitor credential.
			if _, err := v.Verify(t.Context(), vt.Token, token.TypeAnonymous); err == nil {
				t.Fatal("a vended token verified as anonymous")
			}
		})
	}
}

func TestListEvents(t *testing.T) {
	f := setup(t)
	c := f.client()
	u := &foyer.User{Anonymous: true}
	if err := c.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Minute)
	if _, err := c.UpdateUser(t.Context(), u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	other := &foyer.User{Email: "ann@example.org", EmailVerified: true}
	if err := c.CreateUser(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	types := func(events []*foyer.Event) []string {
		var ts []string
		for _, e := range events {
			ts = append(ts, e.Type+" "+e.UserID)
		}
		return ts
	}
	tests := []struct {
		name     string
		filter   client.EventFilter
		want     []string
		wantCode string
	}{
		{"OK", client.EventFilter{}, []string{"user.anonymous.created " + u.ID, "user.updated " + u.ID, "user.created " + other.ID}, ""},
		{"OKPaged", client.EventFilter{Limit: 1}, []string{"user.anonymous.created " + u.ID, "user.updated " + u.ID, "user.created " + other.ID}, ""},
		{"OKType", client.EventFilter{Type: ptr(foyer.EventUserUpdated)}, []string{"user.updated " + u.ID}, ""},
		{"OKUser", client.EventFilter{UserID: &other.ID}, []string{"user.created " + other.ID}, ""},
		{"OKSince", client.EventFilter{Since: ptr(f.Clock.Now())}, []string{"user.updated " + u.ID, "user.created " + other.ID}, ""},
		{"OKUntil", client.EventFilter{Until: ptr(f.Clock.Now().Add(-time.Second))}, []string{"user.anonymous.created " + u.ID}, ""},
		{"ErrInvalidType", client.EventFilter{Type: ptr("user.exploded")}, nil, foyer.EInvalid},
		{"ErrInvalidCursor", client.EventFilter{Cursor: "!"}, nil, foyer.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []*foyer.Event
			for e, err := range c.AllEvents(t.Context(), tt.filter) {
				if err != nil {
					wantCode(t, err, tt.wantCode)
					return
				}
				got = append(got, e)
			}
			wantCode(t, nil, tt.wantCode)
			if diff := cmp.Diff(tt.want, types(got)); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("OKPayload", func(t *testing.T) {
		page, err := c.ListEvents(t.Context(), client.EventFilter{Type: ptr(foyer.EventUserUpdated)})
		if err != nil {
			t.Fatal(err)
		}
		var data struct {
			User foyer.User `json:"user"`
		}
		if err := json.Unmarshal(page.Events[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		if data.User.ID != u.ID || string(data.User.Data) != `{"a":1}` || page.NextCursor != "" {
			t.Fatalf("user.updated payload %s, next cursor %q", page.Events[0].Data, page.NextCursor)
		}
	})
}

func TestKeys(t *testing.T) {
	f := setup(t)
	c := f.client()
	t.Run("OK", func(t *testing.T) {
		keys, err := c.Keys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(f.Keys.Keys(), keys); diff != "" {
			t.Fatalf("keys (-keyring +API):\n%s", diff)
		}
	})
	t.Run("OKRotate", func(t *testing.T) {
		before, err := c.Keys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		k, err := c.RotateKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		after, err := c.Keys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before)+1 || after[0].ID != k.ID || k.Algorithm != "ES256" || after[1].ID != before[0].ID || after[1].RetiredAt == nil {
			t.Fatalf("keys after rotation %+v, rotated %+v", after, k)
		}
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		_, err := client.New(f.URL, "").RotateKeys(t.Context())
		wantCode(t, err, foyer.EUnauthorized)
	})
}

func TestAPIKeys(t *testing.T) {
	f := setup(t)
	c := f.client()
	k, secret, err := c.CreateAPIKey(t.Context(), "reporting")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "foyer_sk_") || k.Name != "reporting" || !strings.HasPrefix(secret, k.Prefix) {
		t.Fatalf("created %+v with secret %q", k, secret)
	}
	tests := []struct {
		name     string
		run      func(t *testing.T) error
		wantCode string
	}{
		{"OKList", func(t *testing.T) error {
			keys, err := c.ListAPIKeys(t.Context())
			if err == nil && (len(keys) != 2 || keys[1].ID != k.ID || keys[1].Name != "reporting") {
				t.Fatalf("keys %+v", keys)
			}
			return err
		}, ""},
		{"OKUseNewKey", func(t *testing.T) error {
			_, err := client.New(f.URL, secret).ListUsers(t.Context(), client.UserFilter{})
			return err
		}, ""},
		{"ErrInvalidName", func(t *testing.T) error {
			_, _, err := c.CreateAPIKey(t.Context(), " ")
			return err
		}, foyer.EInvalid},
		{"OKDelete", func(t *testing.T) error { return c.DeleteAPIKey(t.Context(), k.ID) }, ""},
		{"ErrDeletedKey", func(t *testing.T) error {
			_, err := client.New(f.URL, secret).ListUsers(t.Context(), client.UserFilter{})
			return err
		}, foyer.EUnauthorized},
		{"ErrNotFound", func(t *testing.T) error { return c.DeleteAPIKey(t.Context(), k.ID) }, foyer.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.run(t), tt.wantCode) })
	}
}

func TestMe(t *testing.T) {
	f := setup(t)
	c := client.New(f.URL, "") // visitor calls need no API key
	a, err := c.CreateAnonymousUser(t.Context(), json.RawMessage(`{"theme":"dark"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !a.User.Anonymous || string(a.User.Data) != `{"theme":"dark"}` || !a.ExpiresAt.After(f.Clock.Now()) {
		t.Fatalf("anonymous user %+v expires %v", a.User, a.ExpiresAt)
	}
	tests := []struct {
		name     string
		tok      string
		wantCode string
	}{
		{"OK", a.Token, ""},
		{"ErrNoToken", "", foyer.EUnauthorized},
		{"ErrGarbage", "a.b.c", foyer.EUnauthorized},
		{"ErrAPIKey", f.APIKey, foyer.EUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := c.Me(t.Context(), tt.tok)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if u.ID != a.User.ID || u.Version == 0 || string(u.Data) != `{"theme":"dark"}` {
				t.Fatalf("Me = %+v, want %+v", u, a.User)
			}
		})
	}
}

func TestPatchMe(t *testing.T) {
	f := setup(t)
	c := client.New(f.URL, "")
	a, err := c.CreateAnonymousUser(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	me, err := c.Me(t.Context(), a.Token)
	if err != nil {
		t.Fatal(err)
	}
	stale := me.Version
	tests := []struct {
		name     string
		tok      string
		upd      foyer.UserUpdate
		wantData string
		wantCode string
	}{
		{"OK", a.Token, foyer.UserUpdate{DataPatch: json.RawMessage(`{"watched":1}`)}, `{"watched":1}`, ""},
		{"OKIfMatch", a.Token, foyer.UserUpdate{DataPatch: json.RawMessage(`{"watched":2}`), IfVersion: ptr(stale + 1)}, `{"watched":2}`, ""},
		{"ErrPreconditionFailed", a.Token, foyer.UserUpdate{DataPatch: json.RawMessage(`{"watched":9}`), IfVersion: &stale}, "", foyer.EPreconditionFailed},
		{"ErrInvalid", a.Token, foyer.UserUpdate{DataPatch: json.RawMessage(`"x"`)}, "", foyer.EInvalid},
		{"ErrTooLarge", a.Token, foyer.UserUpdate{DataPatch: json.RawMessage(`{"big":"` + strings.Repeat("x", foyer.MaxDataSize) + `"}`)}, "", foyer.ETooLarge},
		{"ErrNoToken", "", foyer.UserUpdate{DataPatch: json.RawMessage(`{}`)}, "", foyer.EUnauthorized},
		{"ErrAPIKey", f.APIKey, foyer.UserUpdate{DataPatch: json.RawMessage(`{}`)}, "", foyer.EUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := c.PatchMe(t.Context(), tt.tok, tt.upd)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if string(u.Data) != tt.wantData {
				t.Fatalf("data %s, want %s", u.Data, tt.wantData)
			}
		})
	}
}

// TestErrors checks how answers that are not successes become errors.
func TestErrors(t *testing.T) {
	f := setup(t)
	t.Run("OKCodeFromBody", func(t *testing.T) {
		_, err := f.client().GetUser(t.Context(), "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091")
		var fe *foyer.Error
		if !errors.As(err, &fe) || fe.Code != foyer.ENotFound || fe.Message == "" {
			t.Fatalf("error %#v, want a *foyer.Error not_found with a message", err)
		}
		he, ok := errors.AsType[*client.HTTPError](err)
		if !ok || he.StatusCode != http.StatusNotFound || he.RequestID == "" {
			t.Fatalf("HTTPError %+v", he)
		}
	})
	t.Run("OKUnknownCodeKept", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"code":"some_new_code","message":"Later."}}`))
		}))
		defer srv.Close()
		_, err := client.New(srv.URL, "k").GetUser(t.Context(), "x")
		wantCode(t, err, "some_new_code")
		if he, _ := errors.AsType[*client.HTTPError](err); he == nil || he.RetryAfter != 7*time.Second {
			t.Fatalf("HTTPError %+v, want RetryAfter 7s", he)
		}
	})
	t.Run("ErrNoErrorBody", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		}))
		defer srv.Close()
		_, err := client.New(srv.URL, "k").GetUser(t.Context(), "x")
		wantCode(t, err, foyer.EInternal)
		if he, _ := errors.AsType[*client.HTTPError](err); he == nil || he.StatusCode != http.StatusBadGateway {
			t.Fatalf("HTTPError %+v, want status 502", he)
		}
	})
	t.Run("ErrUnreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		_, err := client.New(url, "k").GetUser(t.Context(), "x")
		if err == nil || foyer.ErrorCode(err) != foyer.EInternal {
			t.Fatalf("error %v, want an internal error", err)
		}
	})
	t.Run("OKWithHTTPClient", func(t *testing.T) {
		var used bool
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			used = true
			return http.DefaultTransport.RoundTrip(r)
		})}
		if _, err := client.New(f.URL+"/", f.APIKey, client.WithHTTPClient(hc)).ListUsers(t.Context(), client.UserFilter{}); err != nil {
			t.Fatal(err)
		}
		if !used {
			t.Fatal("the HTTP client given was not used")
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

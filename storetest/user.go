package storetest

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/foyerhq/foyer"
)

func testUsers(t *testing.T, open Opener) {
	t.Run("CreateUser", func(t *testing.T) { testCreateUser(t, open) })
	t.Run("FindUserByID", func(t *testing.T) { testFindUserByID(t, open) })
	t.Run("FindUsers", func(t *testing.T) { testFindUsers(t, open) })
	t.Run("UpdateUser", func(t *testing.T) { testUpdateUser(t, open) })
	t.Run("DeleteUser", func(t *testing.T) { testDeleteUser(t, open) })
	t.Run("TouchUser", func(t *testing.T) { testTouchUser(t, open) })
	t.Run("RevokeUserTokens", func(t *testing.T) { testRevokeUserTokens(t, open) })
	t.Run("ConcurrentCreate", func(t *testing.T) { testConcurrentCreate(t, open) })
}

// testConcurrentCreate has many sign-ups at once, half of them claiming
// the same address: exactly one of those wins, the others get EConflict
// and leave nothing behind, and every other sign-up commits with its
// event. On SQLite the writes queued behind a busy writer commit in one
// group, each in its own savepoint, so this also shows that a failed
// operation of a group touches none of the others.
func testConcurrentCreate(t *testing.T, open Opener) {
	s, _ := setup(t, open)
	const n = 64
	var wg sync.WaitGroup
	codes := make([]string, n)
	for i := range n {
		wg.Go(func() {
			u := &foyer.User{Anonymous: true}
			if i%2 == 0 {
				u = &foyer.User{Email: "dup@example.com", EmailVerified: true}
			}
			codes[i] = foyer.ErrorCode(s.Users.CreateUser(t.Context(), u))
		})
	}
	wg.Wait()
	var committed, conflicts int
	for i, code := range codes {
		switch {
		case code == "":
			committed++
		case code == foyer.EConflict && i%2 == 0:
			conflicts++
		default:
			t.Fatalf("sign-up %d: code %q", i, code)
		}
	}
	if committed != n/2+1 || conflicts != n/2-1 {
		t.Fatalf("%d committed, %d conflicts; want %d and %d", committed, conflicts, n/2+1, n/2-1)
	}
	anonymous, registered := true, false
	anon, err := s.Users.FindUsers(t.Context(), foyer.UserFilter{Anonymous: &anonymous, Limit: foyer.MaxPageSize})
	ok(t, err)
	reg, err := s.Users.FindUsers(t.Context(), foyer.UserFilter{Anonymous: &registered, Limit: foyer.MaxPageSize})
	ok(t, err)
	if len(anon) != n/2 || len(reg) != 1 {
		t.Fatalf("%d anonymous and %d registered users; want %d and 1", len(anon), len(reg), n/2)
	}
	evs, err := s.Events.FindEvents(t.Context(), foyer.EventFilter{Limit: foyer.MaxPageSize})
	ok(t, err)
	if len(evs) != n/2+1 {
		t.Fatalf("%d events, want one per committed user (%d)", len(evs), n/2+1)
	}
}

func testCreateUser(t *testing.T, open Opener) {
	tests := []struct {
		name      string
		user      foyer.User
		wantCode  string
		wantEvent string
		wantData  string
	}{
		{name: "OK/Anonymous", user: foyer.User{Anonymous: true},
			wantEvent: foyer.EventUserAnonymousCreated, wantData: `{}`},
		{name: "OK/AnonymousWithData", user: foyer.User{Anonymous: true, Data: json.RawMessage(`{"cart": [1, 2], "theme": "dark"}`)},
			wantEvent: foyer.EventUserAnonymousCreated, wantData: `{"cart":[1,2],"theme":"dark"}`},
		{name: "OK/Registered", user: foyer.User{Email: "ann@example.com", EmailVerified: true},
			wantEvent: foyer.EventUserCreated, wantData: `{}`},
		{name: "ErrInvalid/AnonymousWithEmail", user: foyer.User{Anonymous: true, Email: "ann@example.com"}, wantCode: foyer.EInvalid},
		{name: "ErrInvalid/RegisteredWithoutEmail", user: foyer.User{}, wantCode: foyer.EInvalid},
		{name: "ErrInvalid/EmailNotNormalised", user: foyer.User{Email: "Ann@Example.com"}, wantCode: foyer.EInvalid},
		{name: "ErrInvalid/DataNotObject", user: foyer.User{Anonymous: true, Data: json.RawMessage(`[1]`)}, wantCode: foyer.EInvalid},
		{name: "ErrMalformedJSON", user: foyer.User{Anonymous: true, Data: json.RawMessage(`{"a":`)}, wantCode: foyer.EMalformedJSON},
		{name: "ErrTooLarge", user: foyer.User{Anonymous: true,
			Data: json.RawMessage(`{"a":"` + strings.Repeat("x", foyer.MaxDataSize) + `"}`)}, wantCode: foyer.ETooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := setup(t, open)
			u := tt.user
			err := s.Users.CreateUser(t.Context(), &u)
			wantCode(t, err, tt.wantCode)
			if tt.wantCode != "" {
				all, err := s.Users.FindUsers(t.Context(), foyer.UserFilter{})
				ok(t, err)
				if len(all) != 0 {
					t.Fatalf("a failed create stored %d users", len(all))
				}
				return
			}
			id, err := uuid.Parse(u.ID)
			if err != nil || id.Version() != 7 || id.String() != u.ID {
				t.Fatalf("ID = %q, want a canonical UUIDv7", u.ID)
			}
			now := c.Now()
			if !u.CreatedAt.Equal(now) || !u.UpdatedAt.Equal(now) || !u.LastSeenAt.Equal(now) {
				t.Errorf("times = %v %v %v, want %v", u.CreatedAt, u.UpdatedAt, u.LastSeenAt, now)
			}
			if u.Version != 1 || u.Epoch != 0 || u.ConvertedAt != nil || u.HasPassword {
				t.Errorf("Version=%d Epoch=%d ConvertedAt=%v HasPassword=%v, want 1 0 nil false", u.Version, u.Epoch, u.ConvertedAt, u.HasPassword)
			}
			jsonEqual(t, "Data", u.Data, tt.wantData)
			got := findUser(t, s, u.ID)
			if diff := userDiff(&u, got); diff != "" {
				t.Fatalf("stored user differs from the returned one (-returned +stored):\n%s", diff)
			}
			evs := userEvents(t, s, u.ID)
			if diff := cmp.Diff([]string{tt.wantEvent}, eventTypes(evs)); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
			if eu := eventUser(t, evs[0]); eu.ID != u.ID || eu.Anonymous != u.Anonymous || eu.Email != u.Email {
				t.Fatalf("event user = %+v, want %+v", eu, u)
			}
		})
	}

	t.Run("ErrConflict", func(t *testing.T) {
		s, _ := setup(t, open)
		createRegistered(t, s, "ann@example.com")
		err := s.Users.CreateUser(t.Context(), &foyer.User{Email: "ann@example.com", EmailVerified: true})
		wantCode(t, err, foyer.EConflict)
		reg, err := s.Users.FindUsers(t.Context(), foyer.UserFilter{Anonymous: ptr(false)})
		ok(t, err)
		if len(reg) != 1 {
			t.Fatalf("%d registered users, want 1", len(reg))
		}
	})

	t.Run("OK/MarkersIgnoreData", func(t *testing.T) {
		s, _ := setup(t, open)
		u := createAnonymous(t, s, `{"anonymous": false, "email_verified": true, "email": "x@example.com"}`)
		got := findUser(t, s, u.ID)
		if !got.Anonymous || got.EmailVerified || got.Email != "" {
			t.Fatalf("data keys changed markers: %+v", got)
		}
	})

	t.Run("OK/IDsAreTimeOrdered", func(t *testing.T) {
		s, c := setup(t, open)
		var prev string
		for i := range 5 {
			if i%2 == 0 {
				c.Advance(time.Millisecond)
			}
			u := createAnonymous(t, s, "")
			if u.ID <= prev {
				t.Fatalf("id %s does not sort after %s", u.ID, prev)
			}
			prev = u.ID
		}
	})
}

func testFindUserByID(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, _ := setup(t, open)
		u := createAnonymous(t, s, `{"a":1}`)
		if diff := userDiff(u, findUser(t, s, u.ID)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	for _, id := range []string{"ErrNotFound/Unknown", "ErrNotFound/Malformed", "ErrNotFound/NotCanonical", "ErrNotFound/Empty"} {
		t.Run(id, func(t *testing.T) {
			s, _ := setup(t, open)
			u := createAnonymous(t, s, "")
			arg := map[string]string{
				"ErrNotFound/Unknown":      uuid.Must(uuid.NewV7()).String(),
				"ErrNotFound/Malformed":    "not-a-uuid",
				"ErrNotFound/NotCanonical": "{" + u.ID + "}",
				"ErrNotFound/Empty":        "",
			}[id]
			_, err := s.Users.FindUserByID(t.Context(), arg)
			wantCode(t, err, foyer.ENotFound)
		})
	}
}

func testFindUsers(t *testing.T, open Opener) {
	s, c := setup(t, open)
	// a1 at t0, r1 at t0+1s, a2 at t0+2s, a3 at t0+3s; each last seen
	// when created.
	a1 := createAnonymous(t, s, "")
	c.Advance(time.Second)
	r1 := createRegistered(t, s, "r1@example.com")
	c.Advance(time.Second)
	a2 := createAnonymous(t, s, "")
	c.Advance(time.Second)
	a3 := createAnonymous(t, s, "")

	tests := []struct {
		name     string
		filter   foyer.UserFilter
		want     []*foyer.User
		wantCode string
	}{
		{name: "OK/All", want: []*foyer.User{a1, r1, a2, a3}},
		{name: "OK/Anonymous", filter: foyer.UserFilter{Anonymous: ptr(true)}, want: []*foyer.User{a1, a2, a3}},
		{name: "OK/Registered", filter: foyer.UserFilter{Anonymous: ptr(false)}, want: []*foyer.User{r1}},
		{name: "OK/Email", filter: foyer.UserFilter{Email: ptr("r1@example.com")}, want: []*foyer.User{r1}},
		{name: "OK/EmailUnknown", filter: foyer.UserFilter{Email: ptr("nobody@example.com")}, want: []*foyer.User{}},
		{name: "OK/CreatedAfter", filter: foyer.UserFilter{CreatedAfter: ptr(t0.Add(time.Second))}, want: []*foyer.User{a2, a3}},
		{name: "OK/CreatedAfterSubMillisecond", filter: foyer.UserFilter{CreatedAfter: ptr(t0.Add(time.Second - time.Microsecond))}, want: []*foyer.User{r1, a2, a3}},
		{name: "OK/CreatedBefore", filter: foyer.UserFilter{CreatedBefore: ptr(t0.Add(2 * time.Second))}, want: []*foyer.User{a1, r1}},
		{name: "OK/CreatedBeforeSubMillisecond", filter: foyer.UserFilter{CreatedBefore: ptr(t0.Add(2*time.Second + time.Microsecond))}, want: []*foyer.User{a1, r1, a2}},
		{name: "OK/CreatedBetween", filter: foyer.UserFilter{CreatedAfter: ptr(t0), CreatedBefore: ptr(t0.Add(3 * time.Second))}, want: []*foyer.User{r1, a2}},
		// Times outside what a UUIDv7 can name (before 1970, after the
		// year 10889) are ranges that hold everything or nothing, never
		// ranges that wrap around.
		{name: "OK/CreatedAfterYear1", filter: foyer.UserFilter{CreatedAfter: ptr(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))}, want: []*foyer.User{a1, r1, a2, a3}},
		{name: "OK/CreatedAfter1960", filter: foyer.UserFilter{CreatedAfter: ptr(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))}, want: []*foyer.User{a1, r1, a2, a3}},
		{name: "OK/CreatedAfterEpoch", filter: foyer.UserFilter{CreatedAfter: ptr(time.Unix(0, 0))}, want: []*foyer.User{a1, r1, a2, a3}},
		{name: "OK/CreatedBefore1960", filter: foyer.UserFilter{CreatedBefore: ptr(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))}, want: []*foyer.User{}},
		{name: "OK/CreatedBeforeYear1", filter: foyer.UserFilter{CreatedBefore: ptr(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))}, want: []*foyer.User{}},
		{name: "OK/CreatedBeforeYear10890", filter: foyer.UserFilter{CreatedBefore: ptr(time.Date(10890, 1, 1, 0, 0, 0, 0, time.UTC))}, want: []*foyer.User{a1, r1, a2, a3}},
		{name: "OK/CreatedAfterYear10890", filter: foyer.UserFilter{CreatedAfter: ptr(time.Date(10890, 1, 1, 0, 0, 0, 0, time.UTC))}, want: []*foyer.User{}},
		{name: "OK/InactiveSince", filter: foyer.UserFilter{InactiveSince: ptr(t0.Add(2 * time.Second))}, want: []*foyer.User{a1, r1}},
		{name: "OK/InactiveSinceAnonymous", filter: foyer.UserFilter{InactiveSince: ptr(t0.Add(2 * time.Second)), Anonymous: ptr(true)}, want: []*foyer.User{a1}},
		{name: "OK/Limit", filter: foyer.UserFilter{Limit: 2}, want: []*foyer.User{a1, r1}},
		{name: "OK/After", filter: foyer.UserFilter{After: r1.ID, Limit: 2}, want: []*foyer.User{a2, a3}},
		{name: "OK/AfterLast", filter: foyer.UserFilter{After: a3.ID}, want: []*foyer.User{}},
		{name: "ErrInvalid/After", filter: foyer.UserFilter{After: "bogus"}, wantCode: foyer.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Users.FindUsers(t.Context(), tt.filter)
			wantCode(t, err, tt.wantCode)
			if tt.wantCode != "" {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("OK/InactiveAfterTouch", func(t *testing.T) {
		s, c := setup(t, open)
		u1 := createAnonymous(t, s, "")
		u2 := createAnonymous(t, s, "")
		c.Advance(time.Hour)
		wrote, err := s.Users.TouchUser(t.Context(), u1.ID, c.Now(), time.Minute)
		ok(t, err)
		if !wrote {
			t.Fatal("TouchUser did not write")
		}
		got, err := s.Users.FindUsers(t.Context(), foyer.UserFilter{InactiveSince: ptr(t0.Add(time.Minute))})
		ok(t, err)
		if diff := cmp.Diff([]string{u2.ID}, ids(got)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
}

func testUpdateUser(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, `{"a":1,"b":{"c":2,"d":3}}`)
		c.Advance(time.Second)
		got, err := s.Users.UpdateUser(t.Context(), u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"b":{"c":null},"e":[true]}`)})
		ok(t, err)
		jsonEqual(t, "Data", got.Data, `{"a":1,"b":{"d":3},"e":[true]}`)
		if got.Version != u.Version+1 || !got.UpdatedAt.Equal(c.Now()) || !got.CreatedAt.Equal(u.CreatedAt) {
			t.Fatalf("Version=%d UpdatedAt=%v, want %d %v", got.Version, got.UpdatedAt, u.Version+1, c.Now())
		}
		if diff := userDiff(got, findUser(t, s, u.ID)); diff != "" {
			t.Fatalf("stored (-returned +stored):\n%s", diff)
		}
		evs := userEvents(t, s, u.ID)
		if diff := cmp.Diff([]string{foyer.EventUserAnonymousCreated, foyer.EventUserUpdated}, eventTypes(evs)); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
		jsonEqual(t, "event data", eventUser(t, evs[1]).Data, `{"a":1,"b":{"d":3},"e":[true]}`)
	})

	t.Run("OK/IfVersion", func(t *testing.T) {
		s, _ := setup(t, open)
		u := createAnonymous(t, s, "")
		got, err := s.Users.UpdateUser(t.Context(), u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"a":1}`), IfVersion: ptr(u.Version)})
		ok(t, err)
		jsonEqual(t, "Data", got.Data, `{"a":1}`)
	})

	t.Run("OK/NullResets", func(t *testing.T) {
		s, _ := setup(t, open)
		u := createAnonymous(t, s, `{"a":1}`)
		got, err := s.Users.UpdateUser(t.Context(), u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`null`)})
		ok(t, err)
		jsonEqual(t, "Data", got.Data, `{}`)
		jsonEqual(t, "stored Data", findUser(t, s, u.ID).Data, `{}`)
	})

	t.Run("OK/MarkersAreNotData", func(t *testing.T) {
		s, _ := setup(t, open)
		u := createAnonymous(t, s, "")
		got, err := s.Users.UpdateUser(t.Context(), u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"anonymous":false,"Email_Verified":true,"epoch":0}`)})
		ok(t, err)
		if !got.Anonymous || got.EmailVerified {
			t.Fatalf("a data patch changed a marker: %+v", got)
		}
	})

	tests := []struct {
		name     string
		patch    string
		ifStale  bool
		maxSize  int
		wantCode string
	}{
		{name: "ErrPreconditionFailed", patch: `{"a":2}`, ifStale: true, wantCode: foyer.EPreconditionFailed},
		{name: "ErrInvalid/NotObject", patch: `[1]`, wantCode: foyer.EInvalid},
		{name: "ErrMalformedJSON", patch: `{"a":`, wantCode: foyer.EMalformedJSON},
		{name: "ErrTooLarge", patch: `{"b":"0123456789"}`, maxSize: 16, wantCode: foyer.ETooLarge},
		{name: "ErrTooLarge/Default", patch: `{"b":"` + strings.Repeat("x", foyer.MaxDataSize) + `"}`, wantCode: foyer.ETooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := setup(t, open)
			u := createAnonymous(t, s, `{"a":1}`)
			c.Advance(time.Second)
			upd := foyer.UserUpdate{DataPatch: json.RawMessage(tt.patch), MaxSize: tt.maxSize}
			if tt.ifStale {
				upd.IfVersion = ptr(u.Version - 1)
			}
			_, err := s.Users.UpdateUser(t.Context(), u.ID, upd)
			wantCode(t, err, tt.wantCode)
			if diff := userDiff(u, findUser(t, s, u.ID)); diff != "" {
				t.Fatalf("a failed update changed the user (-want +got):\n%s", diff)
			}
			if n := len(userEvents(t, s, u.ID)); n != 1 {
				t.Fatalf("a failed update recorded events: %d", n)
			}
		})
	}

	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			id := nf.id
			s, _ := setup(t, open)
			_, err := s.Users.UpdateUser(t.Context(), id, foyer.UserUpdate{DataPatch: json.RawMessage(`{}`)})
			wantCode(t, err, foyer.ENotFound)
		})
	}
}

func testDeleteUser(t *testing.T, open Opener) {
	t.Run("OK/Anonymous", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, `{"secret":"s3cr3t-data"}`)
		other := createAnonymous(t, s, `{"keep":true}`)
		_, hash := requestConversion(t, s, c, u.ID, "pending@example.com", time.Hour)
		_, err := s.Users.UpdateUser(t.Context(), u.ID, foyer.UserUpdate{DataPatch: json.RawMessage(`{"more":"s3cr3t-more"}`)})
		ok(t, err)

		ok(t, s.Users.DeleteUser(t.Context(), u.ID, foyer.DeleteReasonSelf))

		_, err = s.Users.FindUserByID(t.Context(), u.ID)
		wantCode(t, err, foyer.ENotFound)
		_, err = s.Conversions.CompleteConversion(t.Context(), hash, "hash", nil)
		wantCode(t, err, foyer.ETokenInvalid)
		if m := mailTo(t, s, "pending@example.com"); len(m) != 0 {
			t.Fatalf("%d messages to the pending address remain", len(m))
		}
		evs := userEvents(t, s, u.ID)
		if len(evs) != 1 || evs[0].Type != foyer.EventUserDeleted {
			t.Fatalf("events = %v, want one user.deleted", eventTypes(evs))
		}
		jsonEqual(t, "user.deleted data", evs[0].Data, `{"user":{"id":"`+u.ID+`"},"reason":"self"}`)
		wantNothingMentions(t, s, "s3cr3t", "pending@example.com")
		// Other users are untouched.
		if diff := userDiff(other, findUser(t, s, other.ID)); diff != "" {
			t.Fatalf("another user changed (-want +got):\n%s", diff)
		}
		if n := len(userEvents(t, s, other.ID)); n != 1 {
			t.Fatalf("another user's events changed: %d", n)
		}
	})

	t.Run("OK/Registered", func(t *testing.T) {
		s, c := setup(t, open)
		owner := createAnonymous(t, s, `{"secret":"owner-data"}`)
		owner = convert(t, s, c, owner.ID, "owner@example.com")
		sess := createSession(t, s, c, owner.ID, time.Hour)
		_, resetHash := newToken(t)
		ok(t, s.Credentials.RequestPasswordReset(t.Context(), foyer.PasswordResetRequest{
			Email: "owner@example.com", TokenHash: resetHash, Token: "reset-token", ExpiresAt: c.Now().Add(time.Hour)}))
		ok(t, s.Credentials.RecordLoginFailure(t.Context(), "owner@example.com"))
		// Someone else tried to save progress with the owner's address,
		// then the owner merged that anonymous account into theirs.
		anon := createAnonymous(t, s, `{"secret":"merged-data"}`)
		requestConversion(t, s, c, anon.ID, "owner@example.com", time.Hour)
		_, err := s.Merges.MergeUsers(t.Context(), anon.ID, owner.ID, foyer.MergeRegisteredWins)
		ok(t, err)
		bystander := createAnonymous(t, s, "")

		ok(t, s.Users.DeleteUser(t.Context(), owner.ID, foyer.DeleteReasonAdmin))

		_, err = s.Users.FindUserByID(t.Context(), owner.ID)
		wantCode(t, err, foyer.ENotFound)
		_, _, err = s.Credentials.FindCredential(t.Context(), "owner@example.com")
		wantCode(t, err, foyer.ENotFound)
		_, err = s.Sessions.FindSessionUser(t.Context(), owner.ID, sess.ID)
		wantCode(t, err, foyer.EUnauthorized)
		if got, err := s.Sessions.FindSessions(t.Context(), owner.ID); err != nil || len(got) != 0 {
			t.Fatalf("FindSessions = %d, %v; want none", len(got), err)
		}
		_, _, err = s.Sessions.RotateSession(t.Context(), "", sess.RefreshHash, []byte("new"))
		wantCode(t, err, foyer.EUnauthorized)
		_, err = s.Credentials.ResetPassword(t.Context(), resetHash, "hash")
		wantCode(t, err, foyer.ETokenInvalid)
		_, err = s.Merges.FindAlias(t.Context(), anon.ID)
		wantCode(t, err, foyer.ENotFound)
		if m := mailTo(t, s, "owner@example.com"); len(m) != 0 {
			t.Fatalf("%d messages to the deleted address remain", len(m))
		}
		evs := userEvents(t, s, owner.ID)
		if len(evs) != 1 || evs[0].Type != foyer.EventUserDeleted {
			t.Fatalf("events = %v, want one user.deleted", eventTypes(evs))
		}
		jsonEqual(t, "user.deleted data", evs[0].Data, `{"user":{"id":"`+owner.ID+`"},"reason":"admin"}`)
		wantNothingMentions(t, s, "owner@example.com", "owner-data", "merged-data")
		findUser(t, s, bystander.ID)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := setup(t, open)
		u := createAnonymous(t, s, "")
		ok(t, s.Users.DeleteUser(t.Context(), u.ID, foyer.DeleteReasonSelf))
		for _, id := range []string{u.ID, uuid.Must(uuid.NewV7()).String(), "nope"} {
			wantCode(t, s.Users.DeleteUser(t.Context(), id, foyer.DeleteReasonSelf), foyer.ENotFound)
		}
		if n := len(userEvents(t, s, u.ID)); n != 1 {
			t.Fatalf("a failed delete recorded events: %d", n)
		}
	})
}

func testTouchUser(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, "")
		steps := []struct {
			advance   time.Duration
			wantWrote bool
			wantSeen  time.Time
		}{
			{advance: 30 * time.Second, wantWrote: false, wantSeen: t0},
			{advance: 30 * time.Second, wantWrote: false, wantSeen: t0}, // exactly one granularity: not older
			{advance: time.Millisecond, wantWrote: true, wantSeen: t0.Add(time.Minute + time.Millisecond)},
			{advance: 59 * time.Second, wantWrote: false, wantSeen: t0.Add(time.Minute + time.Millisecond)},
			{advance: time.Hour, wantWrote: true, wantSeen: t0.Add(time.Hour + 119*time.Second + time.Millisecond)},
		}
		for i, st := range steps {
			c.Advance(st.advance)
			wrote, err := s.Users.TouchUser(t.Context(), u.ID, c.Now(), time.Minute)
			ok(t, err)
			got := findUser(t, s, u.ID)
			if wrote != st.wantWrote || !got.LastSeenAt.Equal(st.wantSeen) {
				t.Fatalf("step %d: wrote=%v LastSeenAt=%v, want %v %v", i, wrote, got.LastSeenAt, st.wantWrote, st.wantSeen)
			}
			if got.Version != u.Version || !got.UpdatedAt.Equal(u.UpdatedAt) {
				t.Fatalf("step %d: activity changed Version or UpdatedAt: %+v", i, got)
			}
		}
		if n := len(userEvents(t, s, u.ID)); n != 1 {
			t.Fatalf("activity recorded events: %d", n)
		}
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			id := nf.id
			s, c := setup(t, open)
			_, err := s.Users.TouchUser(t.Context(), id, c.Now(), time.Minute)
			wantCode(t, err, foyer.ENotFound)
		})
	}
}

func testRevokeUserTokens(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		s1 := createSession(t, s, c, u.ID, time.Hour)
		createSession(t, s, c, u.ID, time.Hour)
		other := createRegistered(t, s, "bob@example.com")
		s3 := createSession(t, s, c, other.ID, time.Hour)
		c.Advance(time.Second)

		got, err := s.Users.RevokeUserTokens(t.Context(), u.ID)
		ok(t, err)
		if got.Epoch != u.Epoch+1 || got.Version != u.Version+1 {
			t.Fatalf("Epoch=%d Version=%d, want %d %d", got.Epoch, got.Version, u.Epoch+1, u.Version+1)
		}
		if diff := userDiff(got, findUser(t, s, u.ID)); diff != "" {
			t.Fatalf("stored (-returned +stored):\n%s", diff)
		}
		if sessions, err := s.Sessions.FindSessions(t.Context(), u.ID); err != nil || len(sessions) != 0 {
			t.Fatalf("FindSessions = %d, %v; want none", len(sessions), err)
		}
		_, err = s.Sessions.FindSessionUser(t.Context(), u.ID, s1.ID)
		wantCode(t, err, foyer.EUnauthorized)
		if _, err := s.Sessions.FindSessionUser(t.Context(), other.ID, s3.ID); err != nil {
			t.Fatalf("another user's session was revoked: %v", err)
		}
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			id := nf.id
			s, _ := setup(t, open)
			_, err := s.Users.RevokeUserTokens(t.Context(), id)
			wantCode(t, err, foyer.ENotFound)
		})
	}
}

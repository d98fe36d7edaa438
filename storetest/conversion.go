package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testConversions(t *testing.T, open Opener) {
	t.Run("RequestConversion", func(t *testing.T) { testRequestConversion(t, open) })
	t.Run("CompleteConversion", func(t *testing.T) { testCompleteConversion(t, open) })
	t.Run("ConvertUser", func(t *testing.T) { testConvertUser(t, open) })
}

// requestOutcome is what a conversion request leaves behind for the
// requesting user, which must not depend on whether the address has an
// account (DESIGN §2.4).
type requestOutcome struct {
	Anonymous    bool
	Email        string
	PendingEmail string
	Version      int64
	Epoch        int64
	Events       []string
	Mail         int
}

func testRequestConversion(t *testing.T, open Opener) {
	outcome := func(t *testing.T, s Services, u *foyer.User, to string) requestOutcome {
		t.Helper()
		got := findUser(t, s, u.ID)
		n := 0
		for _, m := range mailTo(t, s, to) {
			if m.UserID == u.ID {
				n++
			}
		}
		return requestOutcome{got.Anonymous, got.Email, got.PendingEmail, got.Version - u.Version, got.Epoch - u.Epoch,
			eventTypes(userEvents(t, s, u.ID)), n}
	}
	want := requestOutcome{Anonymous: true, PendingEmail: "new@example.com", Version: 1,
		Events: []string{foyer.EventUserAnonymousCreated, foyer.EventUserConversionRequested}, Mail: 1}

	t.Run("OK/FreeAddress", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, `{"cart":[1]}`)
		raw, _ := requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
		if diff := cmp.Diff(want, outcome(t, s, u, "new@example.com")); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		mail := mailTo(t, s, "new@example.com")
		if mail[0].Kind != foyer.MailConversion || mail[0].SentAt != nil || !mail[0].NextAttemptAt.Equal(c.Now()) {
			t.Fatalf("mail = %+v, want an unsent %s due now", mail[0], foyer.MailConversion)
		}
		jsonEqual(t, "mail data", mail[0].Data, `{"token":"`+raw+`"}`)
		evs := userEvents(t, s, u.ID)
		if eu := eventUser(t, evs[1]); eu.PendingEmail != "new@example.com" || !eu.Anonymous {
			t.Fatalf("event user = %+v", eu)
		}
	})

	t.Run("OK/ExistingAddress", func(t *testing.T) {
		s, c := setup(t, open)
		owner := createRegistered(t, s, "new@example.com")
		u := createAnonymous(t, s, `{"cart":[1]}`)
		raw, _ := requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
		if diff := cmp.Diff(want, outcome(t, s, u, "new@example.com")); diff != "" {
			t.Fatalf("the outcome differs from a free address (-want +got):\n%s", diff)
		}
		mail := mailTo(t, s, "new@example.com")
		if len(mail) != 1 || mail[0].Kind != foyer.MailConversionExisting {
			t.Fatalf("mail = %+v, want one %s", mail, foyer.MailConversionExisting)
		}
		var data map[string]any
		ok(t, json.Unmarshal(mail[0].Data, &data))
		if _, has := data["token"]; has {
			t.Fatalf("the owner's mail carries the link token: %s", mail[0].Data)
		}
		for _, v := range data {
			if v == raw {
				t.Fatalf("the owner's mail carries the link token: %s", mail[0].Data)
			}
		}
		if diff := userDiff(owner, findUser(t, s, owner.ID)); diff != "" {
			t.Fatalf("the owner changed (-want +got):\n%s", diff)
		}
	})

	t.Run("OK/NewerReplacesOlder", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, "")
		_, first := requestConversion(t, s, c, u.ID, "first@example.com", time.Hour)
		c.Advance(time.Second)
		_, second := requestConversion(t, s, c, u.ID, "second@example.com", time.Hour)
		if got := findUser(t, s, u.ID); got.PendingEmail != "second@example.com" {
			t.Fatalf("PendingEmail = %q, want the newer address", got.PendingEmail)
		}
		if m := mailTo(t, s, "first@example.com"); len(m) != 0 {
			t.Fatalf("the unsent mail of the older request remains: %d", len(m))
		}
		_, err := s.Conversions.CompleteConversion(t.Context(), first, "hash", nil)
		wantCode(t, err, foyer.ETokenInvalid)
		got, err := s.Conversions.CompleteConversion(t.Context(), second, "hash", nil)
		ok(t, err)
		if got.Email != "second@example.com" {
			t.Fatalf("Email = %q", got.Email)
		}
	})

	t.Run("OK/PendingAddressIsNoIdentifier", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, "")
		requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
		_, _, err := s.Credentials.FindCredential(t.Context(), "new@example.com")
		wantCode(t, err, foyer.ENotFound)
		_, hash := newToken(t)
		ok(t, s.Credentials.RequestPasswordReset(t.Context(), foyer.PasswordResetRequest{
			Email: "new@example.com", TokenHash: hash, Token: "t", ExpiresAt: c.Now().Add(time.Hour)}))
		for _, m := range mailTo(t, s, "new@example.com") {
			if m.Kind == foyer.MailPasswordReset {
				t.Fatal("a pending address received a password reset")
			}
		}
		_, err = s.Credentials.ResetPassword(t.Context(), hash, "hash")
		wantCode(t, err, foyer.ETokenInvalid)
		got, err := s.Users.FindUsers(t.Context(), foyer.UserFilter{Email: ptr("new@example.com")})
		ok(t, err)
		if len(got) != 0 {
			t.Fatal("a pending address matched the email filter")
		}
		// Another account may register the address meanwhile.
		createRegistered(t, s, "new@example.com")
	})

	t.Run("ErrConflict", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		raw, hash := newToken(t)
		err := s.Conversions.RequestConversion(t.Context(), foyer.ConversionRequest{
			UserID: u.ID, Email: "other@example.com", TokenHash: hash, Token: raw, ExpiresAt: c.Now().Add(time.Hour)})
		wantCode(t, err, foyer.EConflict)
		if m := mailTo(t, s, "other@example.com"); len(m) != 0 {
			t.Fatal("a refused request queued mail")
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, "")
		raw, hash := newToken(t)
		err := s.Conversions.RequestConversion(t.Context(), foyer.ConversionRequest{
			UserID: u.ID, Email: "New@Example.com", TokenHash: hash, Token: raw, ExpiresAt: c.Now().Add(time.Hour)})
		wantCode(t, err, foyer.EInvalid)
		if diff := userDiff(u, findUser(t, s, u.ID)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})

	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, c := setup(t, open)
			raw, hash := newToken(t)
			err := s.Conversions.RequestConversion(t.Context(), foyer.ConversionRequest{
				UserID: nf.id, Email: "new@example.com", TokenHash: hash, Token: raw, ExpiresAt: c.Now().Add(time.Hour)})
			wantCode(t, err, foyer.ENotFound)
			if m := mailTo(t, s, "new@example.com"); len(m) != 0 {
				t.Fatal("a refused request queued mail")
			}
		})
	}
}

func testCompleteConversion(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, `{"cart":[1,2]}`)
		_, hash := requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
		c.Advance(59 * time.Minute)

		got, err := s.Conversions.CompleteConversion(t.Context(), hash, "pwhash", nil)
		ok(t, err)
		now := c.Now()
		want := *u
		want.Anonymous = false
		want.Email = "new@example.com"
		want.EmailVerified = true
		want.HasPassword = true
		want.ConvertedAt = &now
		want.UpdatedAt = now
		want.Epoch = u.Epoch + 1
		want.Version = u.Version + 2 // the request, then the conversion
		if diff := userDiff(&want, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		if diff := userDiff(got, findUser(t, s, u.ID)); diff != "" {
			t.Fatalf("stored (-returned +stored):\n%s", diff)
		}
		cu, pw, err := s.Credentials.FindCredential(t.Context(), "new@example.com")
		ok(t, err)
		if cu.ID != u.ID || pw != "pwhash" {
			t.Fatalf("FindCredential = %s %q, want %s pwhash", cu.ID, pw, u.ID)
		}
		evs := userEvents(t, s, u.ID)
		wantTypes := []string{foyer.EventUserAnonymousCreated, foyer.EventUserConversionRequested,
			foyer.EventUserConverted, foyer.EventUserEmailVerified}
		if diff := cmp.Diff(wantTypes, eventTypes(evs)); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
		if eu := eventUser(t, evs[2]); eu.Anonymous || eu.Email != "new@example.com" || !eu.EmailVerified {
			t.Fatalf("user.converted user = %+v", eu)
		}
		// The link is single-use.
		_, err = s.Conversions.CompleteConversion(t.Context(), hash, "other", nil)
		wantCode(t, err, foyer.ETokenInvalid)
		if diff := userDiff(got, findUser(t, s, u.ID)); diff != "" {
			t.Fatalf("a used link changed the user (-want +got):\n%s", diff)
		}
	})

	t.Run("OK/WithSession", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, "")
		_, hash := requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
		c.Advance(time.Minute)
		_, refresh := newToken(t)
		sess := &foyer.Session{UserID: u.ID, RefreshHash: refresh, ExpiresAt: c.Now().Add(24 * time.Hour),
			UserAgent: "agent\x00\xffx", IP: "192.0.2.1"}

		got, err := s.Conversions.CompleteConversion(t.Context(), hash, "pwhash", sess)
		ok(t, err)
		if got.Anonymous || got.Email != "new@example.com" {
			t.Fatalf("user = %+v, want it registered", got)
		}
		if diff := userDiff(got, findUser(t, s, u.ID)); diff != "" {
			t.Fatalf("stored (-returned +stored):\n%s", diff)
		}
		want := &foyer.Session{ID: sess.ID, UserID: u.ID, RefreshHash: refresh, CreatedAt: c.Now(), LastUsedAt: c.Now(),
			ExpiresAt: c.Now().Add(24 * time.Hour), UserAgent: "agent\uFFFDx", IP: "192.0.2.1", AuthTime: c.Now()}
		if sess.ID == "" {
			t.Fatal("no session id was set")
		}
		if diff := cmp.Diff(want, sess); diff != "" {
			t.Fatalf("session (-want +got):\n%s", diff)
		}
		list, err := s.Sessions.FindSessions(t.Context(), u.ID)
		ok(t, err)
		if diff := cmp.Diff([]*foyer.Session{want}, list); diff != "" {
			t.Fatalf("stored sessions (-want +got):\n%s", diff)
		}
		if _, err := s.Sessions.FindSessionUser(t.Context(), u.ID, sess.ID); err != nil {
			t.Fatalf("the new session is not live: %v", err)
		}
		evs := userEvents(t, s, u.ID)
		wantTypes := []string{foyer.EventUserAnonymousCreated, foyer.EventUserConversionRequested,
			foyer.EventUserConverted, foyer.EventUserEmailVerified, foyer.EventUserLoginSuccess}
		if diff := cmp.Diff(wantTypes, eventTypes(evs)); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
		var d struct {
			SessionID string `json:"session_id"`
		}
		ok(t, json.Unmarshal(evs[4].Data, &d))
		if d.SessionID != sess.ID {
			t.Fatalf("user.login.success data = %s, want session_id %s", evs[4].Data, sess.ID)
		}
		if eu := eventUser(t, evs[4]); eu.Anonymous || eu.Email != got.Email || eu.ConvertedAt == nil {
			t.Fatalf("user.login.success user = %+v, want the converted user", eu)
		}
	})

	// A session for any other user than the converted one is not created:
	// only the holder of the anonymous credential gets one (DESIGN §2.3).
	t.Run("OK/SessionOfAnotherUser", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, "")
		other := createRegistered(t, s, "other@example.com")
		_, hash := requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
		_, refresh := newToken(t)
		sess := &foyer.Session{UserID: other.ID, RefreshHash: refresh, ExpiresAt: c.Now().Add(time.Hour)}
		before := *sess

		got, err := s.Conversions.CompleteConversion(t.Context(), hash, "pwhash", sess)
		ok(t, err)
		if got.Anonymous {
			t.Fatal("the user was not converted")
		}
		if diff := cmp.Diff(&before, sess); diff != "" {
			t.Fatalf("the session was changed (-want +got):\n%s", diff)
		}
		for _, id := range []string{u.ID, other.ID} {
			list, err := s.Sessions.FindSessions(t.Context(), id)
			ok(t, err)
			if len(list) != 0 {
				t.Fatalf("user %s has %d sessions, want none", id, len(list))
			}
			for _, typ := range eventTypes(userEvents(t, s, id)) {
				if typ == foyer.EventUserLoginSuccess {
					t.Fatalf("user %s has a %s event", id, typ)
				}
			}
		}
	})

	// The session is part of the conversion: when it cannot be stored,
	// the conversion does not happen either, and the link still works.
	sessionFailures := []struct {
		name     string
		session  func(t *testing.T, s Services, c *clock, u *foyer.User) *foyer.Session
		wantCode string
	}{
		{name: "ErrConflict/RefreshHashInUse", wantCode: foyer.EConflict,
			session: func(t *testing.T, s Services, c *clock, u *foyer.User) *foyer.Session {
				taken := createSession(t, s, c, createRegistered(t, s, "other@example.com").ID, time.Hour)
				return &foyer.Session{UserID: u.ID, RefreshHash: taken.RefreshHash, ExpiresAt: c.Now().Add(time.Hour)}
			}},
		{name: "ErrInvalid/NoRefreshHash", wantCode: foyer.EInvalid,
			session: func(t *testing.T, s Services, c *clock, u *foyer.User) *foyer.Session {
				return &foyer.Session{UserID: u.ID, ExpiresAt: c.Now().Add(time.Hour)}
			}},
	}
	for _, tt := range sessionFailures {
		t.Run(tt.name, func(t *testing.T) {
			s, c := setup(t, open)
			u := createAnonymous(t, s, `{"cart":[1]}`)
			_, hash := requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
			sess := tt.session(t, s, c, u)
			before := findUser(t, s, u.ID)
			beforeEvents := eventTypes(userEvents(t, s, u.ID))

			_, err := s.Conversions.CompleteConversion(t.Context(), hash, "pwhash", sess)
			wantCode(t, err, tt.wantCode)
			if sess.ID != "" {
				t.Fatalf("a failed completion set the session id %q", sess.ID)
			}
			if diff := userDiff(before, findUser(t, s, u.ID)); diff != "" {
				t.Fatalf("a failed completion changed the user (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(beforeEvents, eventTypes(userEvents(t, s, u.ID))); diff != "" {
				t.Fatalf("a failed completion recorded events (-want +got):\n%s", diff)
			}
			_, _, err = s.Credentials.FindCredential(t.Context(), "new@example.com")
			wantCode(t, err, foyer.ENotFound)
			// The link still works without the session.
			got, err := s.Conversions.CompleteConversion(t.Context(), hash, "pwhash", nil)
			ok(t, err)
			if got.Anonymous {
				t.Fatal("the link did not convert the user")
			}
		})
	}

	// Each case leaves a link that must not work and must change nothing.
	tests := []struct {
		name     string
		prepare  func(t *testing.T, s Services, c *clock, u *foyer.User) []byte
		wantCode string
	}{
		{name: "ErrTokenInvalid/Unknown", wantCode: foyer.ETokenInvalid,
			prepare: func(t *testing.T, s Services, c *clock, u *foyer.User) []byte {
				requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
				_, hash := newToken(t)
				return hash
			}},
		{name: "ErrTokenInvalid/Expired", wantCode: foyer.ETokenInvalid,
			prepare: func(t *testing.T, s Services, c *clock, u *foyer.User) []byte {
				_, hash := requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
				c.Advance(time.Hour)
				return hash
			}},
		{name: "ErrTokenInvalid/Superseded", wantCode: foyer.ETokenInvalid,
			prepare: func(t *testing.T, s Services, c *clock, u *foyer.User) []byte {
				_, hash := requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
				requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
				return hash
			}},
		{name: "ErrIdentifierTaken/Registered", wantCode: foyer.EIdentifierTaken,
			prepare: func(t *testing.T, s Services, c *clock, u *foyer.User) []byte {
				_, hash := requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
				createRegistered(t, s, "new@example.com")
				return hash
			}},
		{name: "ErrIdentifierTaken/ConvertedMeanwhile", wantCode: foyer.EIdentifierTaken,
			prepare: func(t *testing.T, s Services, c *clock, u *foyer.User) []byte {
				_, hash := requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
				other := createAnonymous(t, s, "")
				convert(t, s, c, other.ID, "new@example.com")
				return hash
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := setup(t, open)
			u := createAnonymous(t, s, `{"cart":[1]}`)
			hash := tt.prepare(t, s, c, u)
			before := findUser(t, s, u.ID)
			beforeEvents := eventTypes(userEvents(t, s, u.ID))

			_, refresh := newToken(t)
			sess := &foyer.Session{UserID: u.ID, RefreshHash: refresh, ExpiresAt: c.Now().Add(time.Hour)}
			_, err := s.Conversions.CompleteConversion(t.Context(), hash, "pwhash", sess)
			wantCode(t, err, tt.wantCode)

			if diff := userDiff(before, findUser(t, s, u.ID)); diff != "" {
				t.Fatalf("a failed completion changed the user (-want +got):\n%s", diff)
			}
			if list, err := s.Sessions.FindSessions(t.Context(), u.ID); err != nil || len(list) != 0 || sess.ID != "" {
				t.Fatalf("a failed completion created a session: %d sessions, id %q, %v", len(list), sess.ID, err)
			}
			if diff := cmp.Diff(beforeEvents, eventTypes(userEvents(t, s, u.ID))); diff != "" {
				t.Fatalf("a failed completion recorded events (-want +got):\n%s", diff)
			}
			// Nothing was half-written: trying again fails the same way.
			_, err = s.Conversions.CompleteConversion(t.Context(), hash, "pwhash", nil)
			wantCode(t, err, tt.wantCode)
		})
	}
}

func testConvertUser(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, `{"a":1}`)
		_, hash := requestConversion(t, s, c, u.ID, "pending@example.com", time.Hour)
		c.Advance(time.Second)

		got, err := s.Conversions.ConvertUser(t.Context(), u.ID, "vouched@example.com", "api_key:0190a5d0-0000-7000-8000-0000000000a1")
		ok(t, err)
		if got.Anonymous || got.Email != "vouched@example.com" || !got.EmailVerified || got.HasPassword ||
			got.PendingEmail != "" || got.ConvertedAt == nil || !got.ConvertedAt.Equal(c.Now()) || got.Epoch != u.Epoch+1 {
			t.Fatalf("user = %+v", got)
		}
		jsonEqual(t, "Data", got.Data, `{"a":1}`)
		if diff := userDiff(got, findUser(t, s, u.ID)); diff != "" {
			t.Fatalf("stored (-returned +stored):\n%s", diff)
		}
		_, err = s.Conversions.CompleteConversion(t.Context(), hash, "pwhash", nil)
		wantCode(t, err, foyer.ETokenInvalid)
		cu, pw, err := s.Credentials.FindCredential(t.Context(), "vouched@example.com")
		ok(t, err)
		if cu.ID != u.ID || pw != "" {
			t.Fatalf("FindCredential = %s %q, want %s and no password", cu.ID, pw, u.ID)
		}
		evs := userEvents(t, s, u.ID)
		types := eventTypes(evs)
		if diff := cmp.Diff([]string{foyer.EventUserConverted, foyer.EventUserEmailVerified}, types[len(types)-2:]); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
		// The audit record of the conversion is its event, written with it.
		converted := evs[len(evs)-2]
		var d struct {
			Actor string `json:"actor"`
		}
		ok(t, json.Unmarshal(converted.Data, &d))
		if d.Actor != "api_key:0190a5d0-0000-7000-8000-0000000000a1" {
			t.Fatalf("user.converted data = %s, want the actor", converted.Data)
		}
		if eu := eventUser(t, converted); eu.ID != u.ID || eu.Anonymous {
			t.Fatalf("user.converted user = %+v", eu)
		}
	})

	// A conversion by its own link has no actor beside the person.
	t.Run("OK/NoActorOnLink", func(t *testing.T) {
		s, c := setup(t, open)
		u := convert(t, s, c, createAnonymous(t, s, "").ID, "new@example.com")
		for _, e := range userEvents(t, s, u.ID) {
			var d map[string]json.RawMessage
			ok(t, json.Unmarshal(e.Data, &d))
			if _, has := d["actor"]; has {
				t.Fatalf("%s names an actor: %s", e.Type, e.Data)
			}
		}
	})

	tests := []struct {
		name     string
		email    string
		actor    *string // nil for "admin:a1"
		prepare  func(t *testing.T, s Services) string
		wantCode string
	}{
		{name: "ErrConflict", email: "new@example.com", wantCode: foyer.EConflict,
			prepare: func(t *testing.T, s Services) string { return createRegistered(t, s, "ann@example.com").ID }},
		{name: "ErrIdentifierTaken", email: "ann@example.com", wantCode: foyer.EIdentifierTaken,
			prepare: func(t *testing.T, s Services) string {
				createRegistered(t, s, "ann@example.com")
				return createAnonymous(t, s, "").ID
			}},
		{name: "ErrInvalid", email: "not an address", wantCode: foyer.EInvalid,
			prepare: func(t *testing.T, s Services) string { return createAnonymous(t, s, "").ID }},
		{name: "ErrInvalid/NoActor", email: "new@example.com", actor: ptr(""), wantCode: foyer.EInvalid,
			prepare: func(t *testing.T, s Services) string { return createAnonymous(t, s, "").ID }},
	}
	for _, nf := range notFoundIDs() {
		tests = append(tests, struct {
			name     string
			email    string
			actor    *string
			prepare  func(t *testing.T, s Services) string
			wantCode string
		}{name: nf.name, email: "new@example.com", wantCode: foyer.ENotFound,
			prepare: func(t *testing.T, s Services) string { return nf.id }})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := setup(t, open)
			id := tt.prepare(t, s)
			before, _ := s.Users.FindUserByID(t.Context(), id)
			actor := "admin:a1"
			if tt.actor != nil {
				actor = *tt.actor
			}
			_, err := s.Conversions.ConvertUser(t.Context(), id, tt.email, actor)
			wantCode(t, err, tt.wantCode)
			if before != nil {
				if diff := userDiff(before, findUser(t, s, id)); diff != "" {
					t.Fatalf("a failed conversion changed the user (-want +got):\n%s", diff)
				}
				for _, typ := range eventTypes(userEvents(t, s, id)) {
					if typ == foyer.EventUserConverted {
						t.Fatal("a failed conversion recorded user.converted")
					}
				}
			}
		})
	}
}

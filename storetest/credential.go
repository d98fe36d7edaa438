package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testCredentials(t *testing.T, open Opener) {
	t.Run("FindCredential", func(t *testing.T) { testFindCredential(t, open) })
	t.Run("RequestPasswordReset", func(t *testing.T) { testRequestPasswordReset(t, open) })
	t.Run("ResetPassword", func(t *testing.T) { testResetPassword(t, open) })
	t.Run("RecordLoginFailure", func(t *testing.T) { testRecordLoginFailure(t, open) })
}

// requestReset asks for a reset link for email, valid for ttl.
func requestReset(t *testing.T, s Services, c *clock, email string, ttl time.Duration) (string, []byte) {
	t.Helper()
	raw, hash := newToken(t)
	ok(t, s.Credentials.RequestPasswordReset(t.Context(), foyer.PasswordResetRequest{
		Email: email, TokenHash: hash, Token: raw, ExpiresAt: c.Now().Add(ttl)}))
	return raw, hash
}

func testFindCredential(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := convert(t, s, c, createAnonymous(t, s, "").ID, "ann@example.com")
		got, pw, err := s.Credentials.FindCredential(t.Context(), "ann@example.com")
		ok(t, err)
		if diff := userDiff(u, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		if pw != "hash:ann@example.com" {
			t.Fatalf("password hash = %q", pw)
		}
	})
	t.Run("OK/NoPassword", func(t *testing.T) {
		s, _ := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		got, pw, err := s.Credentials.FindCredential(t.Context(), "ann@example.com")
		ok(t, err)
		if got.ID != u.ID || pw != "" || got.HasPassword {
			t.Fatalf("got %s %q %v, want %s, no password", got.ID, pw, got.HasPassword, u.ID)
		}
	})
	t.Run("ErrNotFound/Unknown", func(t *testing.T) {
		s, _ := setup(t, open)
		createRegistered(t, s, "ann@example.com")
		_, _, err := s.Credentials.FindCredential(t.Context(), "bob@example.com")
		wantCode(t, err, foyer.ENotFound)
	})
	t.Run("ErrNotFound/Unverified", func(t *testing.T) {
		s, _ := setup(t, open)
		ok(t, s.Users.CreateUser(t.Context(), &foyer.User{Email: "ann@example.com"}))
		_, _, err := s.Credentials.FindCredential(t.Context(), "ann@example.com")
		wantCode(t, err, foyer.ENotFound)
	})
	t.Run("ErrNotFound/Pending", func(t *testing.T) {
		s, c := setup(t, open)
		requestConversion(t, s, c, createAnonymous(t, s, "").ID, "ann@example.com", time.Hour)
		_, _, err := s.Credentials.FindCredential(t.Context(), "ann@example.com")
		wantCode(t, err, foyer.ENotFound)
	})
}

func testRequestPasswordReset(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		raw, _ := requestReset(t, s, c, "ann@example.com", time.Hour)
		mail := mailTo(t, s, "ann@example.com")
		if len(mail) != 1 || mail[0].Kind != foyer.MailPasswordReset || mail[0].UserID != u.ID {
			t.Fatalf("mail = %+v, want one %s about %s", mail, foyer.MailPasswordReset, u.ID)
		}
		jsonEqual(t, "mail data", mail[0].Data, `{"token":"`+raw+`"}`)
		if diff := userDiff(u, findUser(t, s, u.ID)); diff != "" {
			t.Fatalf("a reset request changed the user (-want +got):\n%s", diff)
		}
	})
	t.Run("OK/Unknown", func(t *testing.T) {
		s, c := setup(t, open)
		_, hash := requestReset(t, s, c, "nobody@example.com", time.Hour)
		if m := mailTo(t, s, "nobody@example.com"); len(m) != 0 {
			t.Fatal("mail was queued for an unknown address")
		}
		_, err := s.Credentials.ResetPassword(t.Context(), hash, "pwhash")
		wantCode(t, err, foyer.ETokenInvalid)
	})
	t.Run("OK/Anonymous", func(t *testing.T) {
		// An anonymous user has no address; its pending one is covered
		// by the conversion tests. Nothing may be queued.
		s, c := setup(t, open)
		createAnonymous(t, s, "")
		requestReset(t, s, c, "anon@example.com", time.Hour)
		all, err := s.Mail.FindMail(t.Context(), nil, 10)
		ok(t, err)
		if len(all) != 0 {
			t.Fatal("mail was queued")
		}
	})
	t.Run("OK/NewerReplacesOlder", func(t *testing.T) {
		s, c := setup(t, open)
		createRegistered(t, s, "ann@example.com")
		_, first := requestReset(t, s, c, "ann@example.com", time.Hour)
		c.Advance(time.Second)
		raw, second := requestReset(t, s, c, "ann@example.com", time.Hour)
		mail := mailTo(t, s, "ann@example.com")
		if len(mail) != 1 {
			t.Fatalf("%d reset messages queued, want only the newest", len(mail))
		}
		jsonEqual(t, "mail data", mail[0].Data, `{"token":"`+raw+`"}`)
		_, err := s.Credentials.ResetPassword(t.Context(), first, "pwhash")
		wantCode(t, err, foyer.ETokenInvalid)
		_, err = s.Credentials.ResetPassword(t.Context(), second, "pwhash")
		ok(t, err)
	})
}

func testResetPassword(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := convert(t, s, c, createAnonymous(t, s, "").ID, "ann@example.com")
		s1 := createSession(t, s, c, u.ID, time.Hour)
		createSession(t, s, c, u.ID, time.Hour)
		_, hash := requestReset(t, s, c, "ann@example.com", time.Hour)
		c.Advance(time.Minute)

		got, err := s.Credentials.ResetPassword(t.Context(), hash, "newhash")
		ok(t, err)
		if got.Epoch != u.Epoch+1 || got.Version != u.Version+1 || !got.UpdatedAt.Equal(c.Now()) || !got.HasPassword {
			t.Fatalf("user = %+v", got)
		}
		if diff := userDiff(got, findUser(t, s, u.ID)); diff != "" {
			t.Fatalf("stored (-returned +stored):\n%s", diff)
		}
		_, pw, err := s.Credentials.FindCredential(t.Context(), "ann@example.com")
		ok(t, err)
		if pw != "newhash" {
			t.Fatalf("password hash = %q, want newhash", pw)
		}
		if sessions, err := s.Sessions.FindSessions(t.Context(), u.ID); err != nil || len(sessions) != 0 {
			t.Fatalf("FindSessions = %d, %v; want none", len(sessions), err)
		}
		_, err = s.Sessions.FindSessionUser(t.Context(), u.ID, s1.ID)
		wantCode(t, err, foyer.EUnauthorized)
		types := eventTypes(userEvents(t, s, u.ID))
		if types[len(types)-1] != foyer.EventUserPasswordReset {
			t.Fatalf("events = %v, want user.password.reset last", types)
		}
		// The link is single-use.
		_, err = s.Credentials.ResetPassword(t.Context(), hash, "again")
		wantCode(t, err, foyer.ETokenInvalid)
	})

	tests := []struct {
		name    string
		prepare func(t *testing.T, s Services, c *clock) []byte
	}{
		{name: "ErrTokenInvalid/Unknown", prepare: func(t *testing.T, s Services, c *clock) []byte {
			requestReset(t, s, c, "ann@example.com", time.Hour)
			_, hash := newToken(t)
			return hash
		}},
		{name: "ErrTokenInvalid/Expired", prepare: func(t *testing.T, s Services, c *clock) []byte {
			_, hash := requestReset(t, s, c, "ann@example.com", time.Hour)
			c.Advance(time.Hour)
			return hash
		}},
		{name: "ErrTokenInvalid/Superseded", prepare: func(t *testing.T, s Services, c *clock) []byte {
			_, hash := requestReset(t, s, c, "ann@example.com", time.Hour)
			requestReset(t, s, c, "ann@example.com", time.Hour)
			return hash
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := setup(t, open)
			u := createRegistered(t, s, "ann@example.com")
			sess := createSession(t, s, c, u.ID, 2*time.Hour)
			hash := tt.prepare(t, s, c)
			_, err := s.Credentials.ResetPassword(t.Context(), hash, "newhash")
			wantCode(t, err, foyer.ETokenInvalid)
			if diff := userDiff(u, findUser(t, s, u.ID)); diff != "" {
				t.Fatalf("a failed reset changed the user (-want +got):\n%s", diff)
			}
			if _, err := s.Sessions.FindSessionUser(t.Context(), u.ID, sess.ID); err != nil {
				t.Fatalf("a failed reset ended a session: %v", err)
			}
		})
	}
}

func testRecordLoginFailure(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, _ := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		ok(t, s.Credentials.RecordLoginFailure(t.Context(), "ann@example.com"))
		want := []string{foyer.EventUserCreated, foyer.EventUserLoginFailed}
		if diff := cmp.Diff(want, eventTypes(userEvents(t, s, u.ID))); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
	})
	t.Run("OK/Unknown", func(t *testing.T) {
		s, _ := setup(t, open)
		ok(t, s.Credentials.RecordLoginFailure(t.Context(), "nobody@example.com"))
		typ := foyer.EventUserLoginFailed
		evs, err := s.Events.FindEvents(t.Context(), foyer.EventFilter{Type: &typ})
		ok(t, err)
		if len(evs) != 0 {
			t.Fatalf("%d login failures recorded for an unknown address", len(evs))
		}
	})
}

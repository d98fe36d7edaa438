package storetest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testSessions(t *testing.T, open Opener) {
	t.Run("CreateSession", func(t *testing.T) { testCreateSession(t, open) })
	t.Run("FindSessionUser", func(t *testing.T) { testFindSessionUser(t, open) })
	t.Run("FindSession", func(t *testing.T) { testFindSession(t, open) })
	t.Run("RotateSession", func(t *testing.T) { testRotateSession(t, open) })
	t.Run("FindSessions", func(t *testing.T) { testFindSessions(t, open) })
	t.Run("DeleteSession", func(t *testing.T) { testDeleteSession(t, open) })
	t.Run("AppSessions", func(t *testing.T) { testAppSessions(t, open) })
	t.Run("FindSessionByRefresh", func(t *testing.T) { testFindSessionByRefresh(t, open) })
	t.Run("DeleteAppSessions", func(t *testing.T) { testDeleteAppSessions(t, open) })
}

// createAppSession signs a registered user in to an app with a session
// that expires after ttl, granted the openid scope.
func createAppSession(t *testing.T, s Services, c *clock, userID, appID string, ttl time.Duration) *foyer.Session {
	t.Helper()
	_, hash := newToken(t)
	sess := &foyer.Session{UserID: userID, AppID: appID, Scopes: []string{"openid"}, RefreshHash: hash, ExpiresAt: c.Now().Add(ttl)}
	_, err := s.Sessions.CreateSession(t.Context(), sess)
	ok(t, err)
	return sess
}

// sessionsOf returns the live sessions of a user.
func sessionsOf(t *testing.T, s Services, userID string) []*foyer.Session {
	t.Helper()
	list, err := s.Sessions.FindSessions(t.Context(), userID)
	ok(t, err)
	return list
}

func testCreateSession(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		_, hash := newToken(t)
		sess := &foyer.Session{UserID: u.ID, RefreshHash: hash, ExpiresAt: c.Now().Add(time.Hour), UserAgent: "agent", IP: "192.0.2.1"}
		got, err := s.Sessions.CreateSession(t.Context(), sess)
		ok(t, err)
		if diff := userDiff(u, got); diff != "" {
			t.Fatalf("user (-want +got):\n%s", diff)
		}
		if sess.ID == "" || !sess.CreatedAt.Equal(c.Now()) || !sess.LastUsedAt.Equal(c.Now()) {
			t.Fatalf("session = %+v", sess)
		}
		// Foyer's own sign-in names no app, and proves who the person is
		// when the session is created.
		if sess.AppID != "" || sess.Scopes != nil || !sess.AuthTime.Equal(c.Now()) {
			t.Fatalf("AppID, Scopes, AuthTime = %q, %q, %v; want none and the creation time", sess.AppID, sess.Scopes, sess.AuthTime)
		}
		list, err := s.Sessions.FindSessions(t.Context(), u.ID)
		ok(t, err)
		if diff := cmp.Diff([]*foyer.Session{sess}, list); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
		evs := userEvents(t, s, u.ID)
		if diff := cmp.Diff([]string{foyer.EventUserCreated, foyer.EventUserLoginSuccess}, eventTypes(evs)); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
	})
	// What describes the client is cleaned, not refused: PostgreSQL
	// cannot store invalid UTF-8 or NUL, and both stores keep the same.
	t.Run("OK/CleanText", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		_, hash := newToken(t)
		sess := &foyer.Session{UserID: u.ID, RefreshHash: hash, ExpiresAt: c.Now().Add(time.Hour),
			UserAgent: "Mozilla/5.0 \xc3(\x00x\xff", IP: "\x00192.0.2.1"}
		_, err := s.Sessions.CreateSession(t.Context(), sess)
		ok(t, err)
		if sess.UserAgent != "Mozilla/5.0 \uFFFD(x\uFFFD" || sess.IP != "192.0.2.1" {
			t.Fatalf("UserAgent, IP = %q, %q; want them cleaned", sess.UserAgent, sess.IP)
		}
		list, err := s.Sessions.FindSessions(t.Context(), u.ID)
		ok(t, err)
		if diff := cmp.Diff([]*foyer.Session{sess}, list); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
	})
	t.Run("ErrConflict/Anonymous", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, "")
		_, hash := newToken(t)
		_, err := s.Sessions.CreateSession(t.Context(), &foyer.Session{UserID: u.ID, RefreshHash: hash, ExpiresAt: c.Now().Add(time.Hour)})
		wantCode(t, err, foyer.EConflict)
		if n := len(userEvents(t, s, u.ID)); n != 1 {
			t.Fatalf("a refused session recorded events: %d", n)
		}
	})
	t.Run("ErrConflict/RefreshHashInUse", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		first := createSession(t, s, c, u.ID, time.Hour)
		_, err := s.Sessions.CreateSession(t.Context(), &foyer.Session{UserID: u.ID, RefreshHash: first.RefreshHash, ExpiresAt: c.Now().Add(time.Hour)})
		wantCode(t, err, foyer.EConflict)
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, c := setup(t, open)
			_, hash := newToken(t)
			_, err := s.Sessions.CreateSession(t.Context(), &foyer.Session{UserID: nf.id, RefreshHash: hash, ExpiresAt: c.Now().Add(time.Hour)})
			wantCode(t, err, foyer.ENotFound)
		})
	}
}

func testFindSessionUser(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		sess := createSession(t, s, c, u.ID, time.Hour)
		c.Advance(time.Hour - time.Millisecond)
		got, err := s.Sessions.FindSessionUser(t.Context(), u.ID, sess.ID)
		ok(t, err)
		if diff := userDiff(u, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	tests := []struct {
		name string
		args func(t *testing.T, s Services, c *clock, u *foyer.User, sess *foyer.Session) (string, string)
	}{
		{"ErrUnauthorized/OtherUser", func(t *testing.T, s Services, c *clock, u *foyer.User, sess *foyer.Session) (string, string) {
			return createRegistered(t, s, "bob@example.com").ID, sess.ID
		}},
		{"ErrUnauthorized/UnknownSession", func(t *testing.T, s Services, c *clock, u *foyer.User, sess *foyer.Session) (string, string) {
			return u.ID, notFoundIDs()[0].id
		}},
		{"ErrUnauthorized/Malformed", func(t *testing.T, s Services, c *clock, u *foyer.User, sess *foyer.Session) (string, string) {
			return u.ID, "nope"
		}},
		{"ErrUnauthorized/Expired", func(t *testing.T, s Services, c *clock, u *foyer.User, sess *foyer.Session) (string, string) {
			c.Advance(time.Hour)
			return u.ID, sess.ID
		}},
		{"ErrUnauthorized/Deleted", func(t *testing.T, s Services, c *clock, u *foyer.User, sess *foyer.Session) (string, string) {
			ok(t, s.Sessions.DeleteSession(t.Context(), sess.ID))
			return u.ID, sess.ID
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := setup(t, open)
			u := createRegistered(t, s, "ann@example.com")
			sess := createSession(t, s, c, u.ID, time.Hour)
			userID, sessionID := tt.args(t, s, c, u, sess)
			_, err := s.Sessions.FindSessionUser(t.Context(), userID, sessionID)
			wantCode(t, err, foyer.EUnauthorized)
		})
	}
}

func testRotateSession(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		sess := createSession(t, s, c, u.ID, time.Hour)
		c.Advance(time.Minute)
		_, next := newToken(t)
		got, gu, err := s.Sessions.RotateSession(t.Context(), "", sess.RefreshHash, next)
		ok(t, err)
		want := *sess
		want.RefreshHash = next
		want.LastUsedAt = c.Now()
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Fatalf("session (-want +got):\n%s", diff)
		}
		if gu.ID != u.ID {
			t.Fatalf("user = %s, want %s", gu.ID, u.ID)
		}
		list, err := s.Sessions.FindSessions(t.Context(), u.ID)
		ok(t, err)
		if diff := cmp.Diff([]*foyer.Session{&want}, list); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
		// The new token rotates again.
		_, third := newToken(t)
		got, _, err = s.Sessions.RotateSession(t.Context(), "", next, third)
		ok(t, err)
		if !bytes.Equal(got.RefreshHash, third) {
			t.Fatal("second rotation did not take")
		}
	})
	t.Run("ErrUnauthorized/Reuse", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		sess := createSession(t, s, c, u.ID, time.Hour)
		other := createSession(t, s, c, u.ID, time.Hour)
		_, next := newToken(t)
		_, _, err := s.Sessions.RotateSession(t.Context(), "", sess.RefreshHash, next)
		ok(t, err)

		// The old token comes back: someone copied it.
		_, stolen := newToken(t)
		_, _, err = s.Sessions.RotateSession(t.Context(), "", sess.RefreshHash, stolen)
		wantCode(t, err, foyer.EUnauthorized)
		// The session is gone for both holders.
		_, err = s.Sessions.FindSessionUser(t.Context(), u.ID, sess.ID)
		wantCode(t, err, foyer.EUnauthorized)
		_, _, err = s.Sessions.RotateSession(t.Context(), "", next, stolen)
		wantCode(t, err, foyer.EUnauthorized)
		// Other sessions of the user live on.
		if _, err := s.Sessions.FindSessionUser(t.Context(), u.ID, other.ID); err != nil {
			t.Fatalf("reuse ended another session: %v", err)
		}
	})
	t.Run("ErrUnauthorized/Unknown", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		sess := createSession(t, s, c, u.ID, time.Hour)
		_, unknown := newToken(t)
		_, next := newToken(t)
		_, _, err := s.Sessions.RotateSession(t.Context(), "", unknown, next)
		wantCode(t, err, foyer.EUnauthorized)
		if _, err := s.Sessions.FindSessionUser(t.Context(), u.ID, sess.ID); err != nil {
			t.Fatalf("an unknown token ended a session: %v", err)
		}
	})
	t.Run("ErrUnauthorized/Expired", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		sess := createSession(t, s, c, u.ID, time.Hour)
		c.Advance(time.Hour)
		_, next := newToken(t)
		_, _, err := s.Sessions.RotateSession(t.Context(), "", sess.RefreshHash, next)
		wantCode(t, err, foyer.EUnauthorized)
	})
	t.Run("ErrConflict/NewHashInUse", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		a := createSession(t, s, c, u.ID, time.Hour)
		b := createSession(t, s, c, u.ID, time.Hour)
		_, _, err := s.Sessions.RotateSession(t.Context(), "", a.RefreshHash, b.RefreshHash)
		wantCode(t, err, foyer.EConflict)
		list, err := s.Sessions.FindSessions(t.Context(), u.ID)
		ok(t, err)
		if diff := cmp.Diff([]*foyer.Session{b, a}, list); diff != "" {
			t.Fatalf("a failed rotation changed sessions (-want +got):\n%s", diff)
		}
	})
}

func testFindSessions(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		other := createRegistered(t, s, "bob@example.com")
		s1 := createSession(t, s, c, u.ID, time.Hour)
		c.Advance(time.Second)
		s2 := createSession(t, s, c, u.ID, 2*time.Hour)
		createSession(t, s, c, u.ID, time.Second) // expires first
		createSession(t, s, c, other.ID, time.Hour)
		c.Advance(time.Second)
		got, err := s.Sessions.FindSessions(t.Context(), u.ID)
		ok(t, err)
		if diff := cmp.Diff([]*foyer.Session{s2, s1}, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	for _, nf := range notFoundIDs() {
		t.Run("OK/None/"+nf.name, func(t *testing.T) {
			s, _ := setup(t, open)
			got, err := s.Sessions.FindSessions(t.Context(), nf.id)
			ok(t, err)
			if len(got) != 0 {
				t.Fatalf("got %d sessions", len(got))
			}
		})
	}
}

func testDeleteSession(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		s1 := createSession(t, s, c, u.ID, time.Hour)
		s2 := createSession(t, s, c, u.ID, time.Hour)
		ok(t, s.Sessions.DeleteSession(t.Context(), s1.ID))
		got, err := s.Sessions.FindSessions(t.Context(), u.ID)
		ok(t, err)
		if diff := cmp.Diff([]*foyer.Session{s2}, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		wantCode(t, s.Sessions.DeleteSession(t.Context(), s1.ID), foyer.ENotFound)
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, _ := setup(t, open)
			wantCode(t, s.Sessions.DeleteSession(t.Context(), nf.id), foyer.ENotFound)
		})
	}
}

func testAppSessions(t *testing.T, open Opener) {
	// A session signed in through an app keeps the app, the scopes
	// granted and the time of the sign-in, which may be earlier than the
	// session.
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		app := createApp(t, s, "Notes", foyer.AppPublic)
		signedIn := c.Now()
		c.Advance(time.Minute)
		_, hash := newToken(t)
		sess := &foyer.Session{UserID: u.ID, AppID: app.ID, Scopes: []string{"openid", "email"}, AuthTime: signedIn,
			RefreshHash: hash, ExpiresAt: c.Now().Add(time.Hour), UserAgent: "agent", IP: "192.0.2.1"}
		_, err := s.Sessions.CreateSession(t.Context(), sess)
		ok(t, err)
		want := &foyer.Session{ID: sess.ID, UserID: u.ID, AppID: app.ID, Scopes: []string{"openid", "email"}, AuthTime: signedIn,
			RefreshHash: hash, CreatedAt: c.Now(), LastUsedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour), UserAgent: "agent", IP: "192.0.2.1"}
		if diff := cmp.Diff(want, sess); diff != "" {
			t.Fatalf("returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]*foyer.Session{want}, sessionsOf(t, s, u.ID)); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
		evs := userEvents(t, s, u.ID)
		if last := evs[len(evs)-1]; last.Type != foyer.EventUserLoginSuccess {
			t.Fatalf("events = %v, want a login last", eventTypes(evs))
		} else {
			var data struct {
				SessionID string `json:"session_id"`
				AppID     string `json:"app_id"`
			}
			ok(t, json.Unmarshal(last.Data, &data))
			if data.SessionID != sess.ID || data.AppID != app.ID {
				t.Fatalf("login event data %s, want the session %s and the app %s", last.Data, sess.ID, app.ID)
			}
		}
		x, err := s.Exports.ExportUser(t.Context(), u.ID)
		ok(t, err)
		if len(x.Sessions) != 1 || x.Sessions[0].AppID != app.ID {
			t.Fatalf("exported sessions = %+v, want the app's", x.Sessions)
		}

		// The refresh token rotates for its own app only.
		c.Advance(time.Minute)
		_, next := newToken(t)
		got, gu, err := s.Sessions.RotateSession(t.Context(), app.ID, hash, next)
		ok(t, err)
		want.RefreshHash, want.LastUsedAt = next, c.Now()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("rotated (-want +got):\n%s", diff)
		}
		if gu.ID != u.ID {
			t.Fatalf("user = %s, want %s", gu.ID, u.ID)
		}
		// The app is named by its id, whatever the case of its letters.
		_, third := newToken(t)
		_, _, err = s.Sessions.RotateSession(t.Context(), strings.ToUpper(app.ID), next, third)
		ok(t, err)
	})
	for _, nf := range notFoundIDs()[:2] {
		t.Run(nf.name, func(t *testing.T) {
			s, c := setup(t, open)
			u := createRegistered(t, s, "ann@example.com")
			createApp(t, s, "Notes", foyer.AppPublic)
			_, hash := newToken(t)
			_, err := s.Sessions.CreateSession(t.Context(), &foyer.Session{UserID: u.ID, AppID: nf.id, RefreshHash: hash, ExpiresAt: c.Now().Add(time.Hour)})
			wantCode(t, err, foyer.ENotFound)
			if len(sessionsOf(t, s, u.ID)) != 0 {
				t.Fatal("a session of no app was stored")
			}
			if n := len(userEvents(t, s, u.ID)); n != 1 {
				t.Fatalf("a refused session recorded events: %d", n)
			}
		})
	}
	// A refresh token presented for another app, or an app's token
	// presented as Foyer's own, changes nothing: the session keeps its
	// token, and a previous token presented that way revokes nothing.
	t.Run("ErrUnauthorized/OtherApp", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		app := createApp(t, s, "Notes", foyer.AppPublic)
		other := createApp(t, s, "Other", foyer.AppConfidential)
		appSess := createAppSession(t, s, c, u.ID, app.ID, time.Hour)
		own := createSession(t, s, c, u.ID, time.Hour)
		first := appSess.RefreshHash
		_, second := newToken(t)
		rotated, _, err := s.Sessions.RotateSession(t.Context(), app.ID, first, second)
		ok(t, err)
		c.Advance(time.Minute)
		before := sessionsOf(t, s, u.ID)
		tries := []struct {
			app  string
			hash []byte
		}{
			{"", second}, {other.ID, second}, {"not-a-uuid", second}, // the current token
			{"", first}, {other.ID, first}, // the previous one: no reuse revocation
			{app.ID, own.RefreshHash}, {other.ID, own.RefreshHash}, // Foyer's own session
		}
		for _, try := range tries {
			_, next := newToken(t)
			_, _, err := s.Sessions.RotateSession(t.Context(), try.app, try.hash, next)
			wantCode(t, err, foyer.EUnauthorized)
		}
		if diff := cmp.Diff(before, sessionsOf(t, s, u.ID)); diff != "" {
			t.Fatalf("refused rotations changed the sessions (-want +got):\n%s", diff)
		}
		// The rightful app still rotates, and its reuse detection works.
		_, third := newToken(t)
		_, _, err = s.Sessions.RotateSession(t.Context(), app.ID, second, third)
		ok(t, err)
		_, stolen := newToken(t)
		_, _, err = s.Sessions.RotateSession(t.Context(), app.ID, second, stolen)
		wantCode(t, err, foyer.EUnauthorized)
		_, err = s.Sessions.FindSessionUser(t.Context(), u.ID, rotated.ID)
		wantCode(t, err, foyer.EUnauthorized)
		if diff := cmp.Diff([]*foyer.Session{own}, sessionsOf(t, s, u.ID)); diff != "" {
			t.Fatalf("after the reuse (-want +got):\n%s", diff)
		}
	})
}

func testFindSessionByRefresh(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		app := createApp(t, s, "Notes", foyer.AppPublic)
		appSess := createAppSession(t, s, c, u.ID, app.ID, time.Hour)
		own := createSession(t, s, c, u.ID, time.Hour)
		c.Advance(time.Hour - time.Millisecond)
		for _, want := range []*foyer.Session{appSess, own} {
			got, err := s.Sessions.FindSessionByRefresh(t.Context(), want.RefreshHash)
			ok(t, err)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		}
		// Looking does not rotate.
		if diff := cmp.Diff([]*foyer.Session{own, appSess}, sessionsOf(t, s, u.ID)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	// Only the current token finds the session; the previous one is not
	// taken as reuse either, since nothing is exchanged.
	t.Run("ErrUnauthorized/Previous", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		sess := createAppSession(t, s, c, u.ID, createApp(t, s, "Notes", foyer.AppPublic).ID, time.Hour)
		_, next := newToken(t)
		rotated, _, err := s.Sessions.RotateSession(t.Context(), sess.AppID, sess.RefreshHash, next)
		ok(t, err)
		_, err = s.Sessions.FindSessionByRefresh(t.Context(), sess.RefreshHash)
		wantCode(t, err, foyer.EUnauthorized)
		if diff := cmp.Diff([]*foyer.Session{rotated}, sessionsOf(t, s, u.ID)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	t.Run("ErrUnauthorized/Expired", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		sess := createSession(t, s, c, u.ID, time.Hour)
		c.Advance(time.Hour)
		_, err := s.Sessions.FindSessionByRefresh(t.Context(), sess.RefreshHash)
		wantCode(t, err, foyer.EUnauthorized)
	})
	t.Run("ErrUnauthorized/Unknown", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		createSession(t, s, c, u.ID, time.Hour)
		_, unknown := newToken(t)
		for _, h := range [][]byte{unknown, nil} {
			_, err := s.Sessions.FindSessionByRefresh(t.Context(), h)
			wantCode(t, err, foyer.EUnauthorized)
		}
	})
}

func testDeleteAppSessions(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		ctx := t.Context()
		u := createRegistered(t, s, "ann@example.com")
		bob := createRegistered(t, s, "bob@example.com")
		app := createApp(t, s, "Notes", foyer.AppPublic)
		other := createApp(t, s, "Other", foyer.AppPublic)
		createAppSession(t, s, c, u.ID, app.ID, time.Hour)
		createAppSession(t, s, c, u.ID, app.ID, time.Hour)
		keepOther := createAppSession(t, s, c, u.ID, other.ID, time.Hour)
		own := createSession(t, s, c, u.ID, time.Hour)
		bobs := createAppSession(t, s, c, bob.ID, app.ID, time.Hour)

		// A code issued to the app for ann and not yet redeemed dies with
		// her sessions there; one for another app, or for bob, does not.
		annCode := completeWithCode(t, s, c, createAuthRequest(t, s, c, app, time.Hour), u.ID)
		otherCode := completeWithCode(t, s, c, createAuthRequest(t, s, c, other, time.Hour), u.ID)
		bobCode := completeWithCode(t, s, c, createAuthRequest(t, s, c, app, time.Hour), bob.ID)

		n, err := s.Sessions.DeleteAppSessions(ctx, u.ID, app.ID)
		ok(t, err)
		if n != 2 {
			t.Fatalf("ended %d sessions, want 2", n)
		}
		if _, err := s.AuthRequests.RedeemAuthCode(ctx, annCode); foyer.ErrorCode(err) != foyer.ENotFound {
			t.Fatalf("redeeming ann's code for the app after her sessions there ended: %v, want %s", err, foyer.ENotFound)
		}
		for _, code := range [][]byte{otherCode, bobCode} {
			_, err := s.AuthRequests.RedeemAuthCode(ctx, code)
			ok(t, err)
		}
		if diff := cmp.Diff([]*foyer.Session{own, keepOther}, sessionsOf(t, s, u.ID)); diff != "" {
			t.Fatalf("sessions left (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]*foyer.Session{bobs}, sessionsOf(t, s, bob.ID)); diff != "" {
			t.Fatalf("another user's sessions (-want +got):\n%s", diff)
		}
		n, err = s.Sessions.DeleteAppSessions(ctx, u.ID, app.ID)
		ok(t, err)
		if n != 0 {
			t.Fatalf("ended %d sessions again, want 0", n)
		}
	})
	for _, nf := range notFoundIDs() {
		t.Run("OK/None/"+nf.name, func(t *testing.T) {
			s, c := setup(t, open)
			u := createRegistered(t, s, "ann@example.com")
			app := createApp(t, s, "Notes", foyer.AppPublic)
			sess := createAppSession(t, s, c, u.ID, app.ID, time.Hour)
			for _, args := range [][2]string{{nf.id, app.ID}, {u.ID, nf.id}} {
				n, err := s.Sessions.DeleteAppSessions(t.Context(), args[0], args[1])
				ok(t, err)
				if n != 0 {
					t.Fatalf("DeleteAppSessions(%q, %q) = %d, want 0", args[0], args[1], n)
				}
			}
			if diff := cmp.Diff([]*foyer.Session{sess}, sessionsOf(t, s, u.ID)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func testFindSession(t *testing.T, open Opener) {
	s, c := setup(t, open)
	ctx := t.Context()
	u := createRegistered(t, s, "ann@example.com")
	bob := createRegistered(t, s, "bob@example.com")
	app := createApp(t, s, "Notes", foyer.AppPublic)
	own := createSession(t, s, c, u.ID, time.Hour)
	inApp := createAppSession(t, s, c, u.ID, app.ID, 2*time.Hour)
	for _, want := range []*foyer.Session{own, inApp} {
		got, err := s.Sessions.FindSession(ctx, u.ID, want.ID)
		ok(t, err)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("FindSession (-want +got):\n%s", diff)
		}
	}
	for _, tt := range []struct{ name, user, id string }{
		{"AnotherUsers", bob.ID, own.ID},
		{"Unknown", u.ID, "0190c2a4-7e5b-7000-8000-000000000000"},
		{"MalformedSession", u.ID, "nope"},
		{"MalformedUser", "nope", own.ID},
	} {
		if _, err := s.Sessions.FindSession(ctx, tt.user, tt.id); foyer.ErrorCode(err) != foyer.EUnauthorized {
			t.Fatalf("%s: FindSession = %v, want %s", tt.name, err, foyer.EUnauthorized)
		}
	}
	c.Advance(time.Hour)
	if _, err := s.Sessions.FindSession(ctx, u.ID, own.ID); foyer.ErrorCode(err) != foyer.EUnauthorized {
		t.Fatalf("expired session: FindSession = %v, want %s", err, foyer.EUnauthorized)
	}
	if _, err := s.Sessions.FindSession(ctx, u.ID, inApp.ID); err != nil {
		t.Fatalf("live app session after an hour: %v", err)
	}
}

package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testAuthRequests(t *testing.T, open Opener) {
	t.Run("Lifecycle", func(t *testing.T) { testAuthRequestLifecycle(t, open) })
	t.Run("CreateAuthRequest", func(t *testing.T) { testCreateAuthRequest(t, open) })
	t.Run("FindAuthRequest", func(t *testing.T) { testFindAuthRequest(t, open) })
	t.Run("CompleteAuthRequest", func(t *testing.T) { testCompleteAuthRequest(t, open) })
	t.Run("SaveAuthCode", func(t *testing.T) { testSaveAuthCode(t, open) })
	t.Run("RedeemAuthCode", func(t *testing.T) { testRedeemAuthCode(t, open) })
	t.Run("DeleteAuthRequest", func(t *testing.T) { testDeleteAuthRequest(t, open) })
	t.Run("EndedWithSessions", func(t *testing.T) { testAuthRequestsEndedWithSessions(t, open) })
}

// newAuthRequest returns a request of app for its first redirect URI,
// valid for ttl, not yet stored.
func newAuthRequest(c *clock, app *foyer.App, ttl time.Duration) *foyer.AuthRequest {
	return &foyer.AuthRequest{AppID: app.ID, AuthParams: foyer.AuthParams{RedirectURI: app.RedirectURIs[0], Scopes: []string{"openid", "email"},
		ResponseType: "code", State: "state-1", Nonce: "nonce-1", CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256"}, ExpiresAt: c.Now().Add(ttl)}
}

// createAuthRequest stores a request of app valid for ttl.
func createAuthRequest(t *testing.T, s Services, c *clock, app *foyer.App, ttl time.Duration) *foyer.AuthRequest {
	t.Helper()
	a := newAuthRequest(c, app, ttl)
	ok(t, s.AuthRequests.CreateAuthRequest(t.Context(), a))
	return a
}

// findAuthRequest returns the stored live request id.
func findAuthRequest(t *testing.T, s Services, id string) *foyer.AuthRequest {
	t.Helper()
	a, err := s.AuthRequests.FindAuthRequest(t.Context(), id)
	ok(t, err)
	return a
}

func testAuthRequestLifecycle(t *testing.T, open Opener) {
	// An app sends a person to sign in, the person signs in, the app gets
	// a code and redeems it once.
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		ctx := t.Context()
		app := createApp(t, s, "Notes", foyer.AppPublic)
		u := createRegistered(t, s, "ann@example.com")
		maxAge := int64(300)
		a := &foyer.AuthRequest{AppID: app.ID, AuthParams: foyer.AuthParams{RedirectURI: app.RedirectURIs[0], Scopes: []string{"openid", "profile", "email"},
			ResponseType: "code", ResponseMode: "query", State: "xyz ✓", Nonce: "n-0S6_WzA2Mj",
			CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
			Prompt: []string{"login", "consent"}, MaxAge: &maxAge},
			ExpiresAt: c.Now().Add(10 * time.Minute)}
		ok(t, s.AuthRequests.CreateAuthRequest(ctx, a))
		if a.ID == "" {
			t.Fatal("no id was set")
		}
		want := *a
		want.CreatedAt = c.Now()
		if diff := cmp.Diff(&want, a); diff != "" {
			t.Fatalf("returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(&want, findAuthRequest(t, s, a.ID)); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
		if a.Done() {
			t.Fatal("a new request is done")
		}

		c.Advance(time.Minute)
		signedIn := c.Now().Add(-time.Second)
		ok(t, s.AuthRequests.CompleteAuthRequest(ctx, a.ID, u.ID, signedIn))
		want.UserID, want.AuthTime = u.ID, signedIn
		got := findAuthRequest(t, s, a.ID)
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Fatalf("completed (-want +got):\n%s", diff)
		}
		if !got.Done() {
			t.Fatal("a completed request is not done")
		}

		_, code := newToken(t)
		ok(t, s.AuthRequests.SaveAuthCode(ctx, a.ID, code))
		if diff := cmp.Diff(&want, findAuthRequest(t, s, a.ID)); diff != "" {
			t.Fatalf("with its code (-want +got):\n%s", diff)
		}

		redeemed, err := s.AuthRequests.RedeemAuthCode(ctx, code)
		ok(t, err)
		if diff := cmp.Diff(&want, redeemed); diff != "" {
			t.Fatalf("redeemed (-want +got):\n%s", diff)
		}
		_, err = s.AuthRequests.RedeemAuthCode(ctx, code)
		wantCode(t, err, foyer.ENotFound)
		_, err = s.AuthRequests.FindAuthRequest(ctx, a.ID)
		wantCode(t, err, foyer.ENotFound)
	})
	// A request keeps the absence of optional parameters: no prompt, no
	// max_age, and an empty scope list apart from a missing one.
	t.Run("OK/Minimal", func(t *testing.T) {
		s, c := setup(t, open)
		app := createApp(t, s, "Notes", foyer.AppConfidential)
		for _, scopes := range [][]string{nil, {}} {
			a := &foyer.AuthRequest{AppID: app.ID, AuthParams: foyer.AuthParams{RedirectURI: app.RedirectURIs[0], Scopes: scopes, ResponseType: "code"},
				ExpiresAt: c.Now().Add(time.Minute)}
			ok(t, s.AuthRequests.CreateAuthRequest(t.Context(), a))
			if diff := cmp.Diff(a, findAuthRequest(t, s, a.ID)); diff != "" {
				t.Fatalf("stored (-want +got):\n%s", diff)
			}
		}
	})
}

func testCreateAuthRequest(t *testing.T, open Opener) {
	// The request is stored as asked, not signed in for yet, whatever the
	// caller put in UserID and AuthTime.
	t.Run("OK/NotDone", func(t *testing.T) {
		s, c := setup(t, open)
		app := createApp(t, s, "Notes", foyer.AppPublic)
		u := createRegistered(t, s, "ann@example.com")
		a := newAuthRequest(c, app, time.Minute)
		a.UserID, a.AuthTime = u.ID, c.Now()
		ok(t, s.AuthRequests.CreateAuthRequest(t.Context(), a))
		got := findAuthRequest(t, s, a.ID)
		if got.Done() || a.Done() || !got.AuthTime.IsZero() {
			t.Fatalf("a new request is done: %+v", got)
		}
	})
	t.Run("ErrInvalid/Text", func(t *testing.T) {
		s, c := setup(t, open)
		app := createApp(t, s, "Notes", foyer.AppPublic)
		for _, bad := range []string{"st\x00ate", "st\xffate"} {
			a := newAuthRequest(c, app, time.Minute)
			a.State = bad
			wantCode(t, s.AuthRequests.CreateAuthRequest(t.Context(), a), foyer.EInvalid)
		}
		if n := s.Mentions(t, app.ID)["auth_requests"]; n != 0 {
			t.Fatalf("%d refused requests were stored", n)
		}
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, c := setup(t, open)
			app := createApp(t, s, "Notes", foyer.AppPublic)
			a := newAuthRequest(c, app, time.Minute)
			a.AppID = nf.id
			wantCode(t, s.AuthRequests.CreateAuthRequest(t.Context(), a), foyer.ENotFound)
		})
	}
}

func testFindAuthRequest(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		app := createApp(t, s, "Notes", foyer.AppPublic)
		a := createAuthRequest(t, s, c, app, time.Minute)
		b := createAuthRequest(t, s, c, app, time.Minute)
		c.Advance(time.Minute - time.Millisecond)
		if diff := cmp.Diff(a, findAuthRequest(t, s, a.ID)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(b, findAuthRequest(t, s, b.ID)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	t.Run("ErrNotFound/Expired", func(t *testing.T) {
		s, c := setup(t, open)
		app := createApp(t, s, "Notes", foyer.AppPublic)
		a := createAuthRequest(t, s, c, app, time.Minute)
		c.Advance(time.Minute)
		_, err := s.AuthRequests.FindAuthRequest(t.Context(), a.ID)
		wantCode(t, err, foyer.ENotFound)
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, c := setup(t, open)
			createAuthRequest(t, s, c, createApp(t, s, "Notes", foyer.AppPublic), time.Minute)
			_, err := s.AuthRequests.FindAuthRequest(t.Context(), nf.id)
			wantCode(t, err, foyer.ENotFound)
		})
	}
}

func testCompleteAuthRequest(t *testing.T, open Opener) {
	// Signing in again for the same request, as the same person, moves
	// the time of the sign-in and nothing else.
	t.Run("OK/SameUserAgain", func(t *testing.T) {
		s, c := setup(t, open)
		app := createApp(t, s, "Notes", foyer.AppPublic)
		u := createRegistered(t, s, "ann@example.com")
		a := createAuthRequest(t, s, c, app, time.Hour)
		ok(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, u.ID, c.Now()))
		c.Advance(time.Minute)
		ok(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, u.ID, c.Now()))
		want := *a
		want.UserID, want.AuthTime = u.ID, c.Now()
		if diff := cmp.Diff(&want, findAuthRequest(t, s, a.ID)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	t.Run("ErrConflict/Anonymous", func(t *testing.T) {
		s, c := setup(t, open)
		app := createApp(t, s, "Notes", foyer.AppPublic)
		u := createAnonymous(t, s, "")
		a := createAuthRequest(t, s, c, app, time.Hour)
		wantCode(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, u.ID, c.Now()), foyer.EConflict)
		if diff := cmp.Diff(a, findAuthRequest(t, s, a.ID)); diff != "" {
			t.Fatalf("a refused completion changed the request (-want +got):\n%s", diff)
		}
	})
	t.Run("ErrConflict/OtherUser", func(t *testing.T) {
		s, c := setup(t, open)
		app := createApp(t, s, "Notes", foyer.AppPublic)
		ann := createRegistered(t, s, "ann@example.com")
		bob := createRegistered(t, s, "bob@example.com")
		a := createAuthRequest(t, s, c, app, time.Hour)
		ok(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, ann.ID, c.Now()))
		want := findAuthRequest(t, s, a.ID)
		c.Advance(time.Minute)
		wantCode(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, bob.ID, c.Now()), foyer.EConflict)
		if diff := cmp.Diff(want, findAuthRequest(t, s, a.ID)); diff != "" {
			t.Fatalf("a refused completion changed the request (-want +got):\n%s", diff)
		}
	})
	t.Run("ErrNotFound/Expired", func(t *testing.T) {
		s, c := setup(t, open)
		app := createApp(t, s, "Notes", foyer.AppPublic)
		u := createRegistered(t, s, "ann@example.com")
		a := createAuthRequest(t, s, c, app, time.Minute)
		c.Advance(time.Minute)
		wantCode(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, u.ID, c.Now()), foyer.ENotFound)
	})
	t.Run("ErrNotFound/DeletedUser", func(t *testing.T) {
		s, c := setup(t, open)
		app := createApp(t, s, "Notes", foyer.AppPublic)
		u := createRegistered(t, s, "ann@example.com")
		ok(t, s.Users.DeleteUser(t.Context(), u.ID, foyer.DeleteReasonSelf))
		a := createAuthRequest(t, s, c, app, time.Hour)
		wantCode(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, u.ID, c.Now()), foyer.ENotFound)
		if findAuthRequest(t, s, a.ID).Done() {
			t.Fatal("the request was completed for a deleted user")
		}
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name+"/Request", func(t *testing.T) {
			s, c := setup(t, open)
			u := createRegistered(t, s, "ann@example.com")
			createAuthRequest(t, s, c, createApp(t, s, "Notes", foyer.AppPublic), time.Hour)
			wantCode(t, s.AuthRequests.CompleteAuthRequest(t.Context(), nf.id, u.ID, c.Now()), foyer.ENotFound)
		})
		t.Run(nf.name+"/User", func(t *testing.T) {
			s, c := setup(t, open)
			a := createAuthRequest(t, s, c, createApp(t, s, "Notes", foyer.AppPublic), time.Hour)
			wantCode(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, nf.id, c.Now()), foyer.ENotFound)
			if findAuthRequest(t, s, a.ID).Done() {
				t.Fatal("the request was completed for no one")
			}
		})
	}
	// Deleting the person deletes the requests they signed in for.
	t.Run("OK/DeleteUser", func(t *testing.T) {
		s, c := setup(t, open)
		app := createApp(t, s, "Notes", foyer.AppPublic)
		u := createRegistered(t, s, "ann@example.com")
		other := createRegistered(t, s, "bob@example.com")
		a := createAuthRequest(t, s, c, app, time.Hour)
		ok(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, u.ID, c.Now()))
		b := createAuthRequest(t, s, c, app, time.Hour)
		ok(t, s.AuthRequests.CompleteAuthRequest(t.Context(), b.ID, other.ID, c.Now()))
		pending := createAuthRequest(t, s, c, app, time.Hour)
		ok(t, s.Users.DeleteUser(t.Context(), u.ID, foyer.DeleteReasonAdmin))
		_, err := s.AuthRequests.FindAuthRequest(t.Context(), a.ID)
		wantCode(t, err, foyer.ENotFound)
		findAuthRequest(t, s, b.ID)
		findAuthRequest(t, s, pending.ID)
	})
}

func testSaveAuthCode(t *testing.T, open Opener) {
	t.Run("ErrConflict/NotComplete", func(t *testing.T) {
		s, c := setup(t, open)
		a := createAuthRequest(t, s, c, createApp(t, s, "Notes", foyer.AppPublic), time.Hour)
		_, code := newToken(t)
		wantCode(t, s.AuthRequests.SaveAuthCode(t.Context(), a.ID, code), foyer.EConflict)
		_, err := s.AuthRequests.RedeemAuthCode(t.Context(), code)
		wantCode(t, err, foyer.ENotFound)
	})
	t.Run("ErrConflict/HasCode", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		a := createAuthRequest(t, s, c, createApp(t, s, "Notes", foyer.AppPublic), time.Hour)
		ok(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, u.ID, c.Now()))
		_, first := newToken(t)
		_, second := newToken(t)
		ok(t, s.AuthRequests.SaveAuthCode(t.Context(), a.ID, first))
		wantCode(t, s.AuthRequests.SaveAuthCode(t.Context(), a.ID, second), foyer.EConflict)
		_, err := s.AuthRequests.RedeemAuthCode(t.Context(), second)
		wantCode(t, err, foyer.ENotFound)
		got, err := s.AuthRequests.RedeemAuthCode(t.Context(), first)
		ok(t, err)
		if got.ID != a.ID {
			t.Fatalf("redeemed %s, want %s", got.ID, a.ID)
		}
	})
	t.Run("ErrNotFound/Expired", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		a := createAuthRequest(t, s, c, createApp(t, s, "Notes", foyer.AppPublic), time.Minute)
		ok(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, u.ID, c.Now()))
		c.Advance(time.Minute)
		_, code := newToken(t)
		wantCode(t, s.AuthRequests.SaveAuthCode(t.Context(), a.ID, code), foyer.ENotFound)
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, c := setup(t, open)
			createAuthRequest(t, s, c, createApp(t, s, "Notes", foyer.AppPublic), time.Hour)
			_, code := newToken(t)
			wantCode(t, s.AuthRequests.SaveAuthCode(t.Context(), nf.id, code), foyer.ENotFound)
		})
	}
}

// completedWithCode stores a request of a new app, completed by a new
// registered user, with a code, and returns it with the code's hash.
func completedWithCode(t *testing.T, s Services, c *clock, ttl time.Duration) (*foyer.AuthRequest, []byte) {
	t.Helper()
	u := createRegistered(t, s, "ann@example.com")
	a := createAuthRequest(t, s, c, createApp(t, s, "Notes", foyer.AppPublic), ttl)
	ok(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, u.ID, c.Now()))
	_, code := newToken(t)
	ok(t, s.AuthRequests.SaveAuthCode(t.Context(), a.ID, code))
	a.UserID, a.AuthTime = u.ID, c.Now()
	return a, code
}

func testRedeemAuthCode(t *testing.T, open Opener) {
	// However many callers race with the same code, one gets the request.
	t.Run("OK/Concurrent", func(t *testing.T) {
		s, c := setup(t, open)
		a, code := completedWithCode(t, s, c, time.Hour)
		const n = 16
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			won     []*foyer.AuthRequest
			unknown []error
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				got, err := s.AuthRequests.RedeemAuthCode(t.Context(), code)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won = append(won, got)
				} else if foyer.ErrorCode(err) != foyer.ENotFound {
					unknown = append(unknown, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(unknown) != 0 {
			t.Fatalf("unexpected errors: %v", unknown)
		}
		if len(won) != 1 {
			t.Fatalf("%d of %d callers redeemed the code, want exactly 1", len(won), n)
		}
		if diff := cmp.Diff(a, won[0]); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	t.Run("ErrNotFound/Expired", func(t *testing.T) {
		s, c := setup(t, open)
		_, code := completedWithCode(t, s, c, time.Minute)
		c.Advance(time.Minute)
		_, err := s.AuthRequests.RedeemAuthCode(t.Context(), code)
		wantCode(t, err, foyer.ENotFound)
	})
	t.Run("ErrNotFound/Unknown", func(t *testing.T) {
		s, c := setup(t, open)
		completedWithCode(t, s, c, time.Hour)
		_, unknown := newToken(t)
		for _, h := range [][]byte{unknown, nil} {
			_, err := s.AuthRequests.RedeemAuthCode(t.Context(), h)
			wantCode(t, err, foyer.ENotFound)
		}
	})
}

func testDeleteAuthRequest(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		a, code := completedWithCode(t, s, c, time.Hour)
		ok(t, s.AuthRequests.DeleteAuthRequest(t.Context(), a.ID))
		_, err := s.AuthRequests.FindAuthRequest(t.Context(), a.ID)
		wantCode(t, err, foyer.ENotFound)
		_, err = s.AuthRequests.RedeemAuthCode(t.Context(), code)
		wantCode(t, err, foyer.ENotFound)
		// Gone already: not an error.
		ok(t, s.AuthRequests.DeleteAuthRequest(t.Context(), a.ID))
	})
	for _, nf := range notFoundIDs() {
		t.Run("OK/Gone/"+nf.name, func(t *testing.T) {
			s, c := setup(t, open)
			a := createAuthRequest(t, s, c, createApp(t, s, "Notes", foyer.AppPublic), time.Hour)
			ok(t, s.AuthRequests.DeleteAuthRequest(t.Context(), nf.id))
			findAuthRequest(t, s, a.ID)
		})
	}
}

// completeWithCode completes the live request a for userID and attaches a
// new code, whose hash it returns.
func completeWithCode(t *testing.T, s Services, c *clock, a *foyer.AuthRequest, userID string) []byte {
	t.Helper()
	ok(t, s.AuthRequests.CompleteAuthRequest(t.Context(), a.ID, userID, c.Now()))
	_, code := newToken(t)
	ok(t, s.AuthRequests.SaveAuthCode(t.Context(), a.ID, code))
	return code
}

func testAuthRequestsEndedWithSessions(t *testing.T, open Opener) {
	// What ends a registered user's earlier sessions ends the requests
	// they signed in for too (DESIGN §2.3): a code issued before a
	// password reset or a revocation cannot be redeemed after it, and a
	// request completed before it cannot get a code after it. Another
	// person's request and a request nobody has signed in for yet stay.
	for _, tt := range []struct {
		name string
		end  func(t *testing.T, s Services, c *clock, u *foyer.User)
	}{
		{"ResetPassword", func(t *testing.T, s Services, c *clock, u *foyer.User) {
			_, hash := requestReset(t, s, c, u.Email, time.Hour)
			_, err := s.Credentials.ResetPassword(t.Context(), hash, "hash:new")
			ok(t, err)
		}},
		{"RevokeUserTokens", func(t *testing.T, s Services, c *clock, u *foyer.User) {
			_, err := s.Users.RevokeUserTokens(t.Context(), u.ID)
			ok(t, err)
		}},
	} {
		t.Run("OK/"+tt.name, func(t *testing.T) {
			s, c := setup(t, open)
			ctx := t.Context()
			app := createApp(t, s, "Notes", foyer.AppPublic)
			ann := convert(t, s, c, createAnonymous(t, s, "").ID, "ann@example.com")
			bob := createRegistered(t, s, "bob@example.com")
			coded := createAuthRequest(t, s, c, app, time.Hour)
			annCode := completeWithCode(t, s, c, coded, ann.ID)
			uncoded := createAuthRequest(t, s, c, app, time.Hour)
			ok(t, s.AuthRequests.CompleteAuthRequest(ctx, uncoded.ID, ann.ID, c.Now()))
			bobs := createAuthRequest(t, s, c, app, time.Hour)
			bobCode := completeWithCode(t, s, c, bobs, bob.ID)
			pending := createAuthRequest(t, s, c, app, time.Hour)
			createSession(t, s, c, ann.ID, time.Hour)
			c.Advance(time.Second)

			tt.end(t, s, c, ann)

			_, err := s.AuthRequests.RedeemAuthCode(ctx, annCode)
			wantCode(t, err, foyer.ENotFound)
			for _, a := range []*foyer.AuthRequest{coded, uncoded} {
				_, err := s.AuthRequests.FindAuthRequest(ctx, a.ID)
				wantCode(t, err, foyer.ENotFound)
			}
			_, late := newToken(t)
			wantCode(t, s.AuthRequests.SaveAuthCode(ctx, uncoded.ID, late), foyer.ENotFound)
			if sessions, err := s.Sessions.FindSessions(ctx, ann.ID); err != nil || len(sessions) != 0 {
				t.Fatalf("FindSessions = %d, %v; want none", len(sessions), err)
			}
			if pa := findAuthRequest(t, s, pending.ID); pa.Done() {
				t.Fatalf("the pending request was completed: %+v", pa)
			}
			got, err := s.AuthRequests.RedeemAuthCode(ctx, bobCode)
			ok(t, err)
			if got.ID != bobs.ID || got.UserID != bob.ID {
				t.Fatalf("redeemed %s of %s, want %s of %s", got.ID, got.UserID, bobs.ID, bob.ID)
			}
			// Signing in again afterwards works as before.
			again := createAuthRequest(t, s, c, app, time.Hour)
			code := completeWithCode(t, s, c, again, ann.ID)
			if got, err := s.AuthRequests.RedeemAuthCode(ctx, code); err != nil || got.ID != again.ID {
				t.Fatalf("RedeemAuthCode after = %v, %v; want %s", got, err, again.ID)
			}
		})
	}
	// A conversion ends the anonymous account's earlier tokens. An
	// anonymous user cannot complete a request, so none of its own is
	// left to redeem, and the conversion leaves other people's requests
	// and the requests nobody has signed in for alone.
	for _, tt := range []struct {
		name    string
		convert func(t *testing.T, s Services, c *clock, id string)
	}{
		{"CompleteConversion", func(t *testing.T, s Services, c *clock, id string) {
			convert(t, s, c, id, "ann@example.com")
		}},
		{"ConvertUser", func(t *testing.T, s Services, c *clock, id string) {
			_, err := s.Conversions.ConvertUser(t.Context(), id, "ann@example.com", "admin:ops")
			ok(t, err)
		}},
	} {
		t.Run("OK/"+tt.name, func(t *testing.T) {
			s, c := setup(t, open)
			ctx := t.Context()
			app := createApp(t, s, "Notes", foyer.AppPublic)
			anon := createAnonymous(t, s, "")
			bob := createRegistered(t, s, "bob@example.com")
			tried := createAuthRequest(t, s, c, app, time.Hour)
			wantCode(t, s.AuthRequests.CompleteAuthRequest(ctx, tried.ID, anon.ID, c.Now()), foyer.EConflict)
			bobs := createAuthRequest(t, s, c, app, time.Hour)
			bobCode := completeWithCode(t, s, c, bobs, bob.ID)
			c.Advance(time.Second)

			tt.convert(t, s, c, anon.ID)

			if diff := cmp.Diff(tried, findAuthRequest(t, s, tried.ID)); diff != "" {
				t.Fatalf("the request nobody signed in for changed (-want +got):\n%s", diff)
			}
			got, err := s.AuthRequests.RedeemAuthCode(ctx, bobCode)
			ok(t, err)
			if got.ID != bobs.ID {
				t.Fatalf("redeemed %s, want %s", got.ID, bobs.ID)
			}
			// Registered now, the person can sign in to the app.
			code := completeWithCode(t, s, c, tried, anon.ID)
			if got, err := s.AuthRequests.RedeemAuthCode(ctx, code); err != nil || got.UserID != anon.ID {
				t.Fatalf("RedeemAuthCode after = %v, %v; want a request of %s", got, err, anon.ID)
			}
		})
	}
}

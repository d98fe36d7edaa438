package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testAdmins(t *testing.T, open Opener) {
	t.Run("CreateAdmin", func(t *testing.T) { testCreateAdmin(t, open) })
	t.Run("SetAdminTOTP", func(t *testing.T) { testSetAdminTOTP(t, open) })
	t.Run("CreateAdminSession", func(t *testing.T) { testCreateAdminSession(t, open) })
	t.Run("FindAdminSession", func(t *testing.T) { testFindAdminSession(t, open) })
	t.Run("DeleteAdminSession", func(t *testing.T) { testDeleteAdminSession(t, open) })
}

// createAdmin creates an admin with email.
func createAdmin(t *testing.T, s Services, email string) *foyer.Admin {
	t.Helper()
	a := &foyer.Admin{Email: email, PasswordHash: "hash:" + email}
	ok(t, s.Admins.CreateAdmin(t.Context(), a))
	return a
}

// createAdminSession signs admin a in with a session that expires after
// ttl.
func createAdminSession(t *testing.T, s Services, c *clock, adminID string, ttl time.Duration) *foyer.AdminSession {
	t.Helper()
	_, hash := newToken(t)
	sess := &foyer.AdminSession{AdminID: adminID, TokenHash: hash, ExpiresAt: c.Now().Add(ttl)}
	ok(t, s.Admins.CreateAdminSession(t.Context(), sess))
	return sess
}

func testCreateAdmin(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		a1 := &foyer.Admin{Email: "ops@example.com", PasswordHash: "hash:1"}
		ok(t, s.Admins.CreateAdmin(t.Context(), a1))
		if a1.ID == "" || !a1.CreatedAt.Equal(c.Now()) || a1.LastLoginAt != nil || a1.TOTPSecret != "" {
			t.Fatalf("admin = %+v", a1)
		}
		c.Advance(time.Second)
		a2 := &foyer.Admin{Email: "boss@example.com", PasswordHash: "hash:2", TOTPSecret: "JBSWY3DPEHPK3PXP"}
		ok(t, s.Admins.CreateAdmin(t.Context(), a2))

		got, err := s.Admins.FindAdminByEmail(t.Context(), "ops@example.com")
		ok(t, err)
		if diff := cmp.Diff(a1, got); diff != "" {
			t.Fatalf("FindAdminByEmail (-want +got):\n%s", diff)
		}
		all, err := s.Admins.FindAdmins(t.Context())
		ok(t, err)
		if diff := cmp.Diff([]*foyer.Admin{a1, a2}, all); diff != "" {
			t.Fatalf("FindAdmins, oldest first (-want +got):\n%s", diff)
		}
	})
	t.Run("OK/Empty", func(t *testing.T) {
		s, _ := setup(t, open)
		all, err := s.Admins.FindAdmins(t.Context())
		ok(t, err)
		if all == nil || len(all) != 0 {
			t.Fatalf("FindAdmins = %#v, want an empty list", all)
		}
	})
	// Admins are not users: an end user's address is free for an admin,
	// and an admin's for a user.
	t.Run("OK/ApartFromUsers", func(t *testing.T) {
		s, _ := setup(t, open)
		createRegistered(t, s, "ann@example.com")
		createAdmin(t, s, "ann@example.com")
		createAdmin(t, s, "bob@example.com")
		createRegistered(t, s, "bob@example.com")
	})
	t.Run("ErrConflict", func(t *testing.T) {
		s, _ := setup(t, open)
		createAdmin(t, s, "ops@example.com")
		wantCode(t, s.Admins.CreateAdmin(t.Context(), &foyer.Admin{Email: "ops@example.com", PasswordHash: "other"}), foyer.EConflict)
		all, err := s.Admins.FindAdmins(t.Context())
		ok(t, err)
		if len(all) != 1 {
			t.Fatalf("%d admins, want 1", len(all))
		}
	})
	for _, tt := range []struct {
		name string
		a    foyer.Admin
	}{
		{"ErrInvalid/NoEmail", foyer.Admin{PasswordHash: "hash"}},
		{"ErrInvalid/NotNormalised", foyer.Admin{Email: "Ops@Example.com", PasswordHash: "hash"}},
		{"ErrInvalid/NoPasswordHash", foyer.Admin{Email: "ops@example.com"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := setup(t, open)
			wantCode(t, s.Admins.CreateAdmin(t.Context(), &tt.a), foyer.EInvalid)
		})
	}
	t.Run("FindAdminByEmail/ErrNotFound", func(t *testing.T) {
		s, _ := setup(t, open)
		createAdmin(t, s, "ops@example.com")
		createRegistered(t, s, "ann@example.com")
		for _, email := range []string{"other@example.com", "ann@example.com", ""} {
			_, err := s.Admins.FindAdminByEmail(t.Context(), email)
			wantCode(t, err, foyer.ENotFound)
		}
	})
}

func testSetAdminTOTP(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, _ := setup(t, open)
		a := createAdmin(t, s, "ops@example.com")
		other := createAdmin(t, s, "boss@example.com")
		ok(t, s.Admins.SetAdminTOTP(t.Context(), a.ID, "JBSWY3DPEHPK3PXP"))
		got, err := s.Admins.FindAdminByEmail(t.Context(), a.Email)
		ok(t, err)
		a.TOTPSecret = "JBSWY3DPEHPK3PXP"
		if diff := cmp.Diff(a, got); diff != "" {
			t.Fatalf("after enabling TOTP (-want +got):\n%s", diff)
		}
		got, err = s.Admins.FindAdminByEmail(t.Context(), other.Email)
		ok(t, err)
		if got.TOTPSecret != "" {
			t.Fatalf("another admin's TOTP secret is %q", got.TOTPSecret)
		}

		ok(t, s.Admins.SetAdminTOTP(t.Context(), a.ID, ""))
		got, err = s.Admins.FindAdminByEmail(t.Context(), a.Email)
		ok(t, err)
		a.TOTPSecret = ""
		if diff := cmp.Diff(a, got); diff != "" {
			t.Fatalf("after clearing TOTP (-want +got):\n%s", diff)
		}
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, _ := setup(t, open)
			wantCode(t, s.Admins.SetAdminTOTP(t.Context(), nf.id, "JBSWY3DPEHPK3PXP"), foyer.ENotFound)
		})
	}
}

func testCreateAdminSession(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		a := createAdmin(t, s, "ops@example.com")
		c.Advance(time.Minute)
		_, hash := newToken(t)
		sess := &foyer.AdminSession{AdminID: a.ID, TokenHash: hash, ExpiresAt: c.Now().Add(12 * time.Hour)}
		ok(t, s.Admins.CreateAdminSession(t.Context(), sess))
		if sess.ID == "" || sess.AdminID != a.ID || !sess.CreatedAt.Equal(c.Now()) {
			t.Fatalf("session = %+v", sess)
		}
		gotAdmin, gotSess, err := s.Admins.FindAdminSession(t.Context(), hash)
		ok(t, err)
		a.LastLoginAt = ptr(c.Now())
		if diff := cmp.Diff(a, gotAdmin); diff != "" {
			t.Fatalf("admin, with the time of the sign-in (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(sess, gotSess); diff != "" {
			t.Fatalf("session (-want +got):\n%s", diff)
		}
		stored, err := s.Admins.FindAdminByEmail(t.Context(), a.Email)
		ok(t, err)
		if diff := cmp.Diff(a, stored); diff != "" {
			t.Fatalf("FindAdminByEmail after sign-in (-want +got):\n%s", diff)
		}
	})
	// An admin may be signed in from several browsers; signing in again
	// keeps the live sessions and records the later time.
	t.Run("OK/Several", func(t *testing.T) {
		s, c := setup(t, open)
		a := createAdmin(t, s, "ops@example.com")
		first := createAdminSession(t, s, c, a.ID, time.Hour)
		c.Advance(time.Minute)
		second := createAdminSession(t, s, c, a.ID, time.Hour)
		for _, sess := range []*foyer.AdminSession{first, second} {
			got, _, err := s.Admins.FindAdminSession(t.Context(), sess.TokenHash)
			ok(t, err)
			if got.LastLoginAt == nil || !got.LastLoginAt.Equal(c.Now()) {
				t.Fatalf("LastLoginAt = %v, want %v", got.LastLoginAt, c.Now())
			}
		}
	})
	// Signing in removes the admin's expired sessions, so they do not
	// pile up.
	t.Run("OK/ExpiredSessionsGo", func(t *testing.T) {
		s, c := setup(t, open)
		if s.Mentions == nil {
			t.Skip("the store cannot search its rows")
		}
		a := createAdmin(t, s, "ops@example.com")
		other := createAdmin(t, s, "boss@example.com")
		old := createAdminSession(t, s, c, a.ID, time.Hour)
		otherOld := createAdminSession(t, s, c, other.ID, time.Hour)
		live := createAdminSession(t, s, c, a.ID, 3*time.Hour)
		c.Advance(2 * time.Hour)
		createAdminSession(t, s, c, a.ID, time.Hour)
		if got := s.Mentions(t, old.ID)["admin_sessions"]; got != 0 {
			t.Fatalf("the expired session remains")
		}
		for _, sess := range []*foyer.AdminSession{otherOld, live} {
			if got := s.Mentions(t, sess.ID)["admin_sessions"]; got != 1 {
				t.Fatalf("session %s was deleted by another sign-in", sess.ID)
			}
		}
	})
	// The session and the sign-in time are one transaction: a session
	// that cannot be stored leaves LastLoginAt as it was.
	t.Run("ErrConflict", func(t *testing.T) {
		s, c := setup(t, open)
		a := createAdmin(t, s, "ops@example.com")
		first := createAdminSession(t, s, c, a.ID, time.Hour)
		signedIn := c.Now()
		c.Advance(time.Minute)
		err := s.Admins.CreateAdminSession(t.Context(), &foyer.AdminSession{AdminID: a.ID, TokenHash: first.TokenHash, ExpiresAt: c.Now().Add(time.Hour)})
		wantCode(t, err, foyer.EConflict)
		got, err := s.Admins.FindAdminByEmail(t.Context(), a.Email)
		ok(t, err)
		if got.LastLoginAt == nil || !got.LastLoginAt.Equal(signedIn) {
			t.Fatalf("LastLoginAt = %v after a failed sign-in, want %v", got.LastLoginAt, signedIn)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		s, c := setup(t, open)
		a := createAdmin(t, s, "ops@example.com")
		err := s.Admins.CreateAdminSession(t.Context(), &foyer.AdminSession{AdminID: a.ID, ExpiresAt: c.Now().Add(time.Hour)})
		wantCode(t, err, foyer.EInvalid)
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, c := setup(t, open)
			_, hash := newToken(t)
			err := s.Admins.CreateAdminSession(t.Context(), &foyer.AdminSession{AdminID: nf.id, TokenHash: hash, ExpiresAt: c.Now().Add(time.Hour)})
			wantCode(t, err, foyer.ENotFound)
			_, _, err = s.Admins.FindAdminSession(t.Context(), hash)
			wantCode(t, err, foyer.EUnauthorized)
		})
	}
}

func testFindAdminSession(t *testing.T, open Opener) {
	// A session lives until ExpiresAt, excluded; the clock decides.
	t.Run("OK/UntilExpiry", func(t *testing.T) {
		s, c := setup(t, open)
		a := createAdmin(t, s, "ops@example.com")
		sess := createAdminSession(t, s, c, a.ID, time.Hour)
		c.Advance(time.Hour - time.Millisecond)
		got, gotSess, err := s.Admins.FindAdminSession(t.Context(), sess.TokenHash)
		ok(t, err)
		if got.ID != a.ID || gotSess.ID != sess.ID {
			t.Fatalf("FindAdminSession = %+v, %+v", got, gotSess)
		}
		c.Advance(time.Millisecond)
		_, _, err = s.Admins.FindAdminSession(t.Context(), sess.TokenHash)
		wantCode(t, err, foyer.EUnauthorized)
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		s, c := setup(t, open)
		a := createAdmin(t, s, "ops@example.com")
		createAdminSession(t, s, c, a.ID, time.Hour)
		_, unknown := newToken(t)
		for _, hash := range [][]byte{unknown, nil} {
			_, _, err := s.Admins.FindAdminSession(t.Context(), hash)
			wantCode(t, err, foyer.EUnauthorized)
		}
	})
	// An admin session is not an end user's session, and the other way
	// round.
	t.Run("ErrUnauthorized/UserSession", func(t *testing.T) {
		s, c := setup(t, open)
		u := createRegistered(t, s, "ann@example.com")
		sess := createSession(t, s, c, u.ID, time.Hour)
		_, _, err := s.Admins.FindAdminSession(t.Context(), sess.RefreshHash)
		wantCode(t, err, foyer.EUnauthorized)
	})
}

func testDeleteAdminSession(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		a := createAdmin(t, s, "ops@example.com")
		sess := createAdminSession(t, s, c, a.ID, time.Hour)
		other := createAdminSession(t, s, c, a.ID, time.Hour)
		ok(t, s.Admins.DeleteAdminSession(t.Context(), sess.TokenHash))
		_, _, err := s.Admins.FindAdminSession(t.Context(), sess.TokenHash)
		wantCode(t, err, foyer.EUnauthorized)
		_, _, err = s.Admins.FindAdminSession(t.Context(), other.TokenHash)
		ok(t, err)
		wantCode(t, s.Admins.DeleteAdminSession(t.Context(), sess.TokenHash), foyer.ENotFound)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s, _ := setup(t, open)
		_, hash := newToken(t)
		wantCode(t, s.Admins.DeleteAdminSession(t.Context(), hash), foyer.ENotFound)
		wantCode(t, s.Admins.DeleteAdminSession(t.Context(), nil), foyer.ENotFound)
	})
}

package storetest

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testApps(t *testing.T, open Opener) {
	t.Run("CreateApp", func(t *testing.T) { testCreateApp(t, open) })
	t.Run("FindApp", func(t *testing.T) { testFindApp(t, open) })
	t.Run("FindApps", func(t *testing.T) { testFindApps(t, open) })
	t.Run("UpdateApp", func(t *testing.T) { testUpdateApp(t, open) })
	t.Run("SetAppSecret", func(t *testing.T) { testSetAppSecret(t, open) })
	t.Run("DeleteApp", func(t *testing.T) { testDeleteApp(t, open) })
}

// secretHash returns the SHA-256 of an app secret.
func secretHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// newApp returns an app that is valid, not yet stored.
func newApp(name string, typ foyer.AppType) *foyer.App {
	a := &foyer.App{Name: name, Type: typ, RedirectURIs: []string{"https://" + strings.ToLower(name) + ".example.com/callback"}}
	if typ == foyer.AppConfidential {
		a.SecretHash = secretHash("secret of " + name)
	}
	return a
}

// createApp stores a valid app of type typ.
func createApp(t *testing.T, s Services, name string, typ foyer.AppType) *foyer.App {
	t.Helper()
	a := newApp(name, typ)
	ok(t, s.Apps.CreateApp(t.Context(), a))
	return a
}

// findApps returns every stored app.
func findApps(t *testing.T, s Services) []*foyer.App {
	t.Helper()
	apps, err := s.Apps.FindApps(t.Context())
	ok(t, err)
	return apps
}

// appURIs returns n distinct valid redirect URIs.
func appURIs(n int) []string {
	out := []string{}
	for i := range n {
		out = append(out, fmt.Sprintf("https://app.example.com/cb/%d", i))
	}
	return out
}

// appCase is an app made for one case of a table test.
type appCase struct {
	name string
	app  func() *foyer.App
}

// invalidApps are apps that Validate refuses, each for one reason.
func invalidApps() []appCase {
	return []appCase{
		{"EmptyName", func() *foyer.App { a := newApp("Notes", foyer.AppPublic); a.Name = "  "; return a }},
		{"LongName", func() *foyer.App {
			a := newApp("Notes", foyer.AppPublic)
			a.Name = strings.Repeat("n", foyer.MaxAppNameLength+1)
			return a
		}},
		{"NameWithNUL", func() *foyer.App { a := newApp("Notes", foyer.AppPublic); a.Name = "No\x00tes"; return a }},
		{"NameInvalidUTF8", func() *foyer.App { a := newApp("Notes", foyer.AppPublic); a.Name = "No\xfftes"; return a }},
		{"UnknownType", func() *foyer.App { a := newApp("Notes", foyer.AppPublic); a.Type = "native"; return a }},
		{"PublicWithSecret", func() *foyer.App {
			a := newApp("Notes", foyer.AppPublic)
			a.SecretHash = secretHash("s")
			return a
		}},
		{"ConfidentialWithoutSecret", func() *foyer.App {
			a := newApp("Notes", foyer.AppConfidential)
			a.SecretHash = nil
			return a
		}},
		{"NoRedirectURI", func() *foyer.App { a := newApp("Notes", foyer.AppPublic); a.RedirectURIs = nil; return a }},
		{"PlainHTTP", func() *foyer.App {
			a := newApp("Notes", foyer.AppPublic)
			a.RedirectURIs = []string{"http://notes.example.com/cb"}
			return a
		}},
		{"Fragment", func() *foyer.App {
			a := newApp("Notes", foyer.AppPublic)
			a.RedirectURIs = []string{"https://notes.example.com/cb#x"}
			return a
		}},
		{"Relative", func() *foyer.App { a := newApp("Notes", foyer.AppPublic); a.RedirectURIs = []string{"/cb"}; return a }},
		{"DuplicateURI", func() *foyer.App {
			a := newApp("Notes", foyer.AppPublic)
			a.RedirectURIs = append(a.RedirectURIs, a.RedirectURIs[0])
			return a
		}},
		{"TooManyURIs", func() *foyer.App {
			a := newApp("Notes", foyer.AppPublic)
			a.RedirectURIs = appURIs(foyer.MaxAppRedirectURIs + 1)
			return a
		}},
		{"URIWithNUL", func() *foyer.App {
			a := newApp("Notes", foyer.AppPublic)
			a.RedirectURIs = []string{"https://notes.example.com/c\x00b"}
			return a
		}},
		{"BadPostLogoutURI", func() *foyer.App {
			a := newApp("Notes", foyer.AppPublic)
			a.PostLogoutRedirectURIs = []string{"ftp://notes.example.com/bye"}
			return a
		}},
	}
}

func testCreateApp(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		a := &foyer.App{Name: "  Notes  ", Type: foyer.AppConfidential, SecretHash: secretHash("s3cret"),
			RedirectURIs:           []string{"https://notes.example.com/cb", "http://localhost:8080/cb", "http://[::1]/cb"},
			PostLogoutRedirectURIs: []string{"https://notes.example.com/bye"}}
		ok(t, s.Apps.CreateApp(t.Context(), a))
		if a.ID == "" || !a.CreatedAt.Equal(c.Now()) {
			t.Fatalf("app = %+v, want an id and the creation time", a)
		}
		want := &foyer.App{ID: a.ID, Name: "Notes", Type: foyer.AppConfidential, SecretHash: secretHash("s3cret"),
			RedirectURIs:           []string{"https://notes.example.com/cb", "http://localhost:8080/cb", "http://[::1]/cb"},
			PostLogoutRedirectURIs: []string{"https://notes.example.com/bye"}, CreatedAt: c.Now()}
		if diff := cmp.Diff(want, a); diff != "" {
			t.Fatalf("returned (-want +got):\n%s", diff)
		}
		got, err := s.Apps.FindApp(t.Context(), a.ID)
		ok(t, err)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
	})
	t.Run("OK/Public", func(t *testing.T) {
		s, c := setup(t, open)
		a := &foyer.App{Name: "Phone", Type: foyer.AppPublic, RedirectURIs: appURIs(foyer.MaxAppRedirectURIs)}
		ok(t, s.Apps.CreateApp(t.Context(), a))
		want := &foyer.App{ID: a.ID, Name: "Phone", Type: foyer.AppPublic, RedirectURIs: appURIs(foyer.MaxAppRedirectURIs),
			PostLogoutRedirectURIs: []string{}, CreatedAt: c.Now()}
		if diff := cmp.Diff(want, a); diff != "" {
			t.Fatalf("returned (-want +got):\n%s", diff)
		}
		got, err := s.Apps.FindApp(t.Context(), a.ID)
		ok(t, err)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
	})
	for _, tt := range invalidApps() {
		t.Run("ErrInvalid/"+tt.name, func(t *testing.T) {
			s, _ := setup(t, open)
			a := tt.app()
			wantCode(t, s.Apps.CreateApp(t.Context(), a), foyer.EInvalid)
			if a.ID != "" {
				t.Fatalf("a refused app got id %s", a.ID)
			}
			if apps := findApps(t, s); len(apps) != 0 {
				t.Fatalf("a refused app was stored: %+v", apps[0])
			}
		})
	}
}

func testFindApp(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, _ := setup(t, open)
		a := createApp(t, s, "Notes", foyer.AppPublic)
		createApp(t, s, "Other", foyer.AppConfidential)
		got, err := s.Apps.FindApp(t.Context(), a.ID)
		ok(t, err)
		if diff := cmp.Diff(a, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, _ := setup(t, open)
			createApp(t, s, "Notes", foyer.AppPublic)
			_, err := s.Apps.FindApp(t.Context(), nf.id)
			wantCode(t, err, foyer.ENotFound)
		})
	}
}

func testFindApps(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		if apps := findApps(t, s); apps == nil || len(apps) != 0 {
			t.Fatalf("FindApps on an empty store = %#v, want an empty list", apps)
		}
		a := createApp(t, s, "Zeta", foyer.AppConfidential)
		// Two in the same millisecond keep their creation order too.
		b := createApp(t, s, "Alpha", foyer.AppPublic)
		c.Advance(time.Second)
		d := createApp(t, s, "Mid", foyer.AppPublic)
		if diff := cmp.Diff([]*foyer.App{a, b, d}, findApps(t, s)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
}

// typeAndSecretCases are the invalidApps that are wrong only in their
// type or secret, which UpdateApp does not look at.
var typeAndSecretCases = []string{"UnknownType", "PublicWithSecret", "ConfidentialWithoutSecret"}

func testUpdateApp(t *testing.T, open Opener) {
	// The name and addresses change; the type, secret hash and creation
	// time stay as stored whatever the update says.
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		a := createApp(t, s, "Notes", foyer.AppConfidential)
		other := createApp(t, s, "Other", foyer.AppPublic)
		c.Advance(time.Hour)
		upd := &foyer.App{ID: a.ID, Name: " Notes 2 ", Type: foyer.AppPublic, SecretHash: secretHash("rotated"),
			RedirectURIs: []string{"https://notes2.example.com/cb"}, PostLogoutRedirectURIs: []string{"https://notes2.example.com/bye"},
			CreatedAt: c.Now()}
		ok(t, s.Apps.UpdateApp(t.Context(), upd))
		want := &foyer.App{ID: a.ID, Name: "Notes 2", Type: foyer.AppConfidential, SecretHash: a.SecretHash,
			RedirectURIs: []string{"https://notes2.example.com/cb"}, PostLogoutRedirectURIs: []string{"https://notes2.example.com/bye"},
			CreatedAt: a.CreatedAt}
		if diff := cmp.Diff(want, upd); diff != "" {
			t.Fatalf("returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]*foyer.App{want, other}, findApps(t, s)); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
	})
	// A public app asked to become confidential, with a secret, stays
	// public and without one; absent lists are stored empty.
	t.Run("OK/KeepsPublic", func(t *testing.T) {
		s, _ := setup(t, open)
		a := createApp(t, s, "Phone", foyer.AppPublic)
		upd := &foyer.App{ID: a.ID, Name: "Phone", Type: foyer.AppConfidential, SecretHash: secretHash("mine"),
			RedirectURIs: []string{"https://phone.example.com/cb2"}}
		ok(t, s.Apps.UpdateApp(t.Context(), upd))
		want := &foyer.App{ID: a.ID, Name: "Phone", Type: foyer.AppPublic, RedirectURIs: []string{"https://phone.example.com/cb2"},
			PostLogoutRedirectURIs: []string{}, CreatedAt: a.CreatedAt}
		if diff := cmp.Diff(want, upd); diff != "" {
			t.Fatalf("returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]*foyer.App{want}, findApps(t, s)); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
	})
	// An update whose only fault is its type or secret is applied, to
	// the name and addresses alone, on either kind of app.
	for _, tt := range invalidApps() {
		if !slices.Contains(typeAndSecretCases, tt.name) {
			continue
		}
		t.Run("OK/Ignores"+tt.name, func(t *testing.T) {
			s, _ := setup(t, open)
			for _, a := range []*foyer.App{createApp(t, s, "Phone", foyer.AppPublic), createApp(t, s, "Notes", foyer.AppConfidential)} {
				upd := tt.app()
				upd.ID = a.ID
				ok(t, s.Apps.UpdateApp(t.Context(), upd))
				want := *a
				want.Name, want.RedirectURIs = "Notes", upd.RedirectURIs
				got, err := s.Apps.FindApp(t.Context(), a.ID)
				ok(t, err)
				if diff := cmp.Diff(&want, got); diff != "" {
					t.Fatalf("stored %s app (-want +got):\n%s", a.Type, diff)
				}
				if diff := cmp.Diff(&want, upd); diff != "" {
					t.Fatalf("returned %s app (-want +got):\n%s", a.Type, diff)
				}
			}
		})
	}
	// An update is refused for a name or address that CreateApp refuses,
	// on either kind of app, and changes nothing.
	for _, tt := range invalidApps() {
		if slices.Contains(typeAndSecretCases, tt.name) {
			continue
		}
		t.Run("ErrInvalid/"+tt.name, func(t *testing.T) {
			s, _ := setup(t, open)
			pub := createApp(t, s, "Phone", foyer.AppPublic)
			conf := createApp(t, s, "Notes", foyer.AppConfidential)
			for _, a := range []*foyer.App{pub, conf} {
				upd := tt.app()
				upd.ID, upd.Type, upd.SecretHash = a.ID, a.Type, a.SecretHash
				wantCode(t, s.Apps.UpdateApp(t.Context(), upd), foyer.EInvalid)
			}
			if diff := cmp.Diff([]*foyer.App{pub, conf}, findApps(t, s)); diff != "" {
				t.Fatalf("a refused update changed the apps (-want +got):\n%s", diff)
			}
		})
	}
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, _ := setup(t, open)
			a := createApp(t, s, "Notes", foyer.AppPublic)
			upd := newApp("Notes", foyer.AppPublic)
			upd.ID = nf.id
			wantCode(t, s.Apps.UpdateApp(t.Context(), upd), foyer.ENotFound)
			if diff := cmp.Diff([]*foyer.App{a}, findApps(t, s)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("ErrNotFound/Deleted", func(t *testing.T) {
		s, _ := setup(t, open)
		a := createApp(t, s, "Notes", foyer.AppConfidential)
		ok(t, s.Apps.DeleteApp(t.Context(), a.ID))
		upd := newApp("Notes", foyer.AppConfidential)
		upd.ID = a.ID
		wantCode(t, s.Apps.UpdateApp(t.Context(), upd), foyer.ENotFound)
		if apps := findApps(t, s); len(apps) != 0 {
			t.Fatalf("an update brought a deleted app back: %+v", apps[0])
		}
	})
	// Workers each alternately set a new secret and update the app as it
	// was read before any new secret. SetAppSecret calls are ordered by a
	// lock, so one is last; updates run between and after them. No update
	// writes an old hash back: once all are done, the stored hash is the
	// one set last.
	t.Run("OK/ConcurrentWithSetAppSecret", func(t *testing.T) {
		s, _ := setup(t, open)
		a := createApp(t, s, "Notes", foyer.AppConfidential)
		const workers, rounds = 8, 8
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex // orders the SetAppSecret calls, so that one is last
			last   []byte
			failed []error
		)
		fail := func(err error) {
			mu.Lock()
			defer mu.Unlock()
			failed = append(failed, err)
		}
		start := make(chan struct{})
		for w := range workers {
			wg.Go(func() {
				<-start
				for r := range rounds {
					hash := secretHash(fmt.Sprintf("secret %d.%d", w, r))
					mu.Lock()
					if err := s.Apps.SetAppSecret(t.Context(), a.ID, hash); err != nil {
						failed = append(failed, fmt.Errorf("set secret %d.%d: %w", w, r, err))
					} else {
						last = hash
					}
					mu.Unlock()
					// The app as read before any new secret, with its
					// old hash; every worker ends with such an update.
					upd := *a
					upd.Name = fmt.Sprintf("Notes %d.%d", w, r)
					if err := s.Apps.UpdateApp(t.Context(), &upd); err != nil {
						fail(fmt.Errorf("update %d.%d: %w", w, r, err))
					}
				}
			})
		}
		close(start)
		wg.Wait()
		if len(failed) != 0 {
			t.Fatalf("unexpected errors: %v", failed)
		}
		got, err := s.Apps.FindApp(t.Context(), a.ID)
		ok(t, err)
		if string(got.SecretHash) != string(last) {
			t.Fatalf("stored hash %x, want %x: an update wrote back an older secret", got.SecretHash, last)
		}
		if got.Type != foyer.AppConfidential || !strings.HasPrefix(got.Name, "Notes ") {
			t.Fatalf("stored app = %+v, want a confidential app renamed by an update", got)
		}
	})
	// Many updates racing a single new secret: afterwards the stored hash
	// is the new one, whichever way they interleaved.
	t.Run("OK/ConcurrentWithOneSecret", func(t *testing.T) {
		s, _ := setup(t, open)
		a := createApp(t, s, "Notes", foyer.AppConfidential)
		rotated := secretHash("rotated")
		const workers, rounds = 8, 16
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			failed []error
		)
		start := make(chan struct{})
		for w := range workers {
			wg.Go(func() {
				<-start
				for r := range rounds {
					upd := *a
					upd.Name = fmt.Sprintf("Notes %d.%d", w, r)
					err := s.Apps.UpdateApp(t.Context(), &upd)
					if err == nil && string(upd.SecretHash) != string(a.SecretHash) && string(upd.SecretHash) != string(rotated) {
						err = fmt.Errorf("returned hash %x is neither the old nor the new one", upd.SecretHash)
					}
					if err != nil {
						mu.Lock()
						failed = append(failed, fmt.Errorf("update %d.%d: %w", w, r, err))
						mu.Unlock()
					}
				}
			})
		}
		wg.Go(func() {
			<-start
			if err := s.Apps.SetAppSecret(t.Context(), a.ID, rotated); err != nil {
				mu.Lock()
				failed = append(failed, fmt.Errorf("set secret: %w", err))
				mu.Unlock()
			}
		})
		close(start)
		wg.Wait()
		if len(failed) != 0 {
			t.Fatalf("unexpected errors: %v", failed)
		}
		got, err := s.Apps.FindApp(t.Context(), a.ID)
		ok(t, err)
		if string(got.SecretHash) != string(rotated) {
			t.Fatalf("stored hash %x, want the new one %x: an update wrote back the old secret", got.SecretHash, rotated)
		}
	})
}

func testSetAppSecret(t *testing.T, open Opener) {
	// Only the secret hash of the one app changes.
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		a := createApp(t, s, "Notes", foyer.AppConfidential)
		other := createApp(t, s, "Other", foyer.AppConfidential)
		c.Advance(time.Hour)
		ok(t, s.Apps.SetAppSecret(t.Context(), a.ID, secretHash("rotated")))
		want := *a
		want.SecretHash = secretHash("rotated")
		if diff := cmp.Diff([]*foyer.App{&want, other}, findApps(t, s)); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
		// Setting it again, even to the same hash, is fine.
		ok(t, s.Apps.SetAppSecret(t.Context(), a.ID, secretHash("rotated")))
		if diff := cmp.Diff([]*foyer.App{&want, other}, findApps(t, s)); diff != "" {
			t.Fatalf("stored after the same hash again (-want +got):\n%s", diff)
		}
	})
	t.Run("ErrConflict/Public", func(t *testing.T) {
		s, _ := setup(t, open)
		pub := createApp(t, s, "Phone", foyer.AppPublic)
		wantCode(t, s.Apps.SetAppSecret(t.Context(), pub.ID, secretHash("mine")), foyer.EConflict)
		if diff := cmp.Diff([]*foyer.App{pub}, findApps(t, s)); diff != "" {
			t.Fatalf("a refused secret changed the app (-want +got):\n%s", diff)
		}
	})
	t.Run("ErrInvalid/EmptyHash", func(t *testing.T) {
		s, _ := setup(t, open)
		conf := createApp(t, s, "Notes", foyer.AppConfidential)
		for _, h := range [][]byte{nil, {}} {
			wantCode(t, s.Apps.SetAppSecret(t.Context(), conf.ID, h), foyer.EInvalid)
		}
		if diff := cmp.Diff([]*foyer.App{conf}, findApps(t, s)); diff != "" {
			t.Fatalf("a refused secret changed the app (-want +got):\n%s", diff)
		}
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, _ := setup(t, open)
			a := createApp(t, s, "Notes", foyer.AppConfidential)
			wantCode(t, s.Apps.SetAppSecret(t.Context(), nf.id, secretHash("mine")), foyer.ENotFound)
			if diff := cmp.Diff([]*foyer.App{a}, findApps(t, s)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("ErrNotFound/Deleted", func(t *testing.T) {
		s, _ := setup(t, open)
		a := createApp(t, s, "Notes", foyer.AppConfidential)
		ok(t, s.Apps.DeleteApp(t.Context(), a.ID))
		wantCode(t, s.Apps.SetAppSecret(t.Context(), a.ID, secretHash("mine")), foyer.ENotFound)
		if apps := findApps(t, s); len(apps) != 0 {
			t.Fatalf("a new secret brought a deleted app back: %+v", apps[0])
		}
	})
}

func testDeleteApp(t *testing.T, open Opener) {
	// Deleting an app ends the sessions signed in through it and its
	// pending authorization requests, and nothing of other apps or of
	// Foyer's own sign-in.
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		ctx := t.Context()
		u := createRegistered(t, s, "ann@example.com")
		a := createApp(t, s, "Notes", foyer.AppConfidential)
		b := createApp(t, s, "Other", foyer.AppPublic)
		own := createSession(t, s, c, u.ID, time.Hour)
		createAppSession(t, s, c, u.ID, a.ID, time.Hour)
		createAppSession(t, s, c, u.ID, a.ID, time.Hour)
		keep := createAppSession(t, s, c, u.ID, b.ID, time.Hour)
		pending := createAuthRequest(t, s, c, a, time.Hour)
		coded := createAuthRequest(t, s, c, a, time.Hour)
		ok(t, s.AuthRequests.CompleteAuthRequest(ctx, coded.ID, u.ID, c.Now()))
		_, code := newToken(t)
		ok(t, s.AuthRequests.SaveAuthCode(ctx, coded.ID, code))
		other := createAuthRequest(t, s, c, b, time.Hour)

		ok(t, s.Apps.DeleteApp(ctx, a.ID))
		_, err := s.Apps.FindApp(ctx, a.ID)
		wantCode(t, err, foyer.ENotFound)
		if diff := cmp.Diff([]*foyer.App{b}, findApps(t, s)); diff != "" {
			t.Fatalf("apps (-want +got):\n%s", diff)
		}
		list, err := s.Sessions.FindSessions(ctx, u.ID)
		ok(t, err)
		if diff := cmp.Diff([]*foyer.Session{keep, own}, list); diff != "" {
			t.Fatalf("sessions left (-want +got):\n%s", diff)
		}
		for _, r := range []*foyer.AuthRequest{pending, coded} {
			_, err := s.AuthRequests.FindAuthRequest(ctx, r.ID)
			wantCode(t, err, foyer.ENotFound)
		}
		_, err = s.AuthRequests.RedeemAuthCode(ctx, code)
		wantCode(t, err, foyer.ENotFound)
		if _, err := s.AuthRequests.FindAuthRequest(ctx, other.ID); err != nil {
			t.Fatalf("another app's request: %v", err)
		}
		wantCode(t, s.Apps.DeleteApp(ctx, a.ID), foyer.ENotFound)
		// New sessions and requests for the deleted app are refused.
		_, hash := newToken(t)
		_, err = s.Sessions.CreateSession(ctx, &foyer.Session{UserID: u.ID, AppID: a.ID, RefreshHash: hash, ExpiresAt: c.Now().Add(time.Hour)})
		wantCode(t, err, foyer.ENotFound)
		err = s.AuthRequests.CreateAuthRequest(ctx, &foyer.AuthRequest{AppID: a.ID, AuthParams: foyer.AuthParams{RedirectURI: a.RedirectURIs[0],
			Scopes: []string{"openid"}, ResponseType: "code"}, ExpiresAt: c.Now().Add(time.Hour)})
		wantCode(t, err, foyer.ENotFound)
	})
	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, _ := setup(t, open)
			a := createApp(t, s, "Notes", foyer.AppPublic)
			wantCode(t, s.Apps.DeleteApp(t.Context(), nf.id), foyer.ENotFound)
			if diff := cmp.Diff([]*foyer.App{a}, findApps(t, s)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

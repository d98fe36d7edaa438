package admin_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/admin"
	"github.com/google/go-cmp/cmp"
)

func TestSetup(t *testing.T) {
	form := func(key, email, pw, confirm string) url.Values {
		return url.Values{"bootstrap_key": {key}, "email": {email}, "password": {pw}, "password_confirm": {confirm}}
	}
	t.Run("OK", func(t *testing.T) {
		c := setup(t)
		cl := c.client(t)
		mustContain(t, cl.get("/admin/login", http.StatusOK).Body, `href="/admin/setup"`)
		r := cl.post("/admin/setup", "/admin/setup", form(bootstrapKey, " Ops@Example.com ", adminPassword, adminPassword), http.StatusSeeOther)
		if r.Location() != "/admin/?notice=welcome" {
			t.Fatalf("redirect to %q", r.Location())
		}
		mustContain(t, cl.get("/admin/?notice=welcome", http.StatusOK).Body, "Foyer is set up and you are signed in.", "ops@example.com")
		a, err := c.admins.FindAdminByEmail(t.Context(), "ops@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"admin.setup 303"}, c.auditActions(t, a.ID)); diff != "" {
			t.Fatalf("audit (-want +got):\n%s", diff)
		}
		// Once an admin exists, the page is closed.
		if r := cl.do("GET", "/admin/setup", nil); r.Status != http.StatusSeeOther || r.Location() != "/admin/login" {
			t.Fatalf("GET /admin/setup after setup: %d %q", r.Status, r.Location())
		}
	})
	t.Run("ErrWrongKey", func(t *testing.T) {
		c := setup(t)
		cl := c.client(t)
		r := cl.post("/admin/setup", "/admin/setup", form("foyer_sk_wrong", adminEmail, adminPassword, adminPassword), http.StatusUnauthorized)
		mustContain(t, r.Body, "This is not the bootstrap API key.", `value="ops@example.com"`)
		if admins, _ := c.admins.FindAdmins(t.Context()); len(admins) != 0 {
			t.Fatalf("%d admins created", len(admins))
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		c := setup(t)
		cl := c.client(t)
		mustContain(t, cl.post("/admin/setup", "/admin/setup", form(bootstrapKey, adminEmail, adminPassword, "other"), http.StatusBadRequest).Body, "The passwords differ.")
		mustContain(t, cl.post("/admin/setup", "/admin/setup", form(bootstrapKey, adminEmail, "short", "short"), http.StatusBadRequest).Body, "The password must be 8 to 256 characters long.")
		mustContain(t, cl.post("/admin/setup", "/admin/setup", form(bootstrapKey, "not an address", adminPassword, adminPassword), http.StatusBadRequest).Body, "The email address is not valid.")
	})
	t.Run("ErrClosed", func(t *testing.T) {
		c := setup(t)
		c.createAdmin(t, adminEmail)
		cl := c.client(t)
		mustNotContain(t, cl.get("/admin/login", http.StatusOK).Body, `href="/admin/setup"`)
		f := form(bootstrapKey, "second@example.com", adminPassword, adminPassword)
		f.Set("csrf", csrfToken(t, cl.get("/admin/login", http.StatusOK).Body))
		r := cl.do("POST", "/admin/setup", f)
		mustContain(t, r.Body, "Foyer is already set up")
		if r.Status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", r.Status)
		}
		if admins, _ := c.admins.FindAdmins(t.Context()); len(admins) != 1 {
			t.Fatalf("%d admins, want 1", len(admins))
		}
	})
	t.Run("ErrDisabled", func(t *testing.T) {
		c := setup(t, func(_ *admin.Config, d *admin.Deps) { d.CheckBootstrapKey = nil })
		cl := c.client(t)
		if r := cl.do("GET", "/admin/setup", nil); r.Status != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", r.Status)
		}
	})
	t.Run("ErrNoFormToken", func(t *testing.T) {
		c := setup(t)
		cl := c.client(t)
		cl.get("/admin/setup", http.StatusOK)
		f := form(bootstrapKey, adminEmail, adminPassword, adminPassword)
		f.Set("csrf", "forged")
		r := cl.do("POST", "/admin/setup", f)
		if r.Status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", r.Status)
		}
		if admins, _ := c.admins.FindAdmins(t.Context()); len(admins) != 0 {
			t.Fatalf("%d admins created", len(admins))
		}
	})
}

func TestSignIn(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		c := setup(t)
		a := c.createAdmin(t, adminEmail)
		cl := c.client(t)
		r := cl.post("/admin/login", "/admin/login", url.Values{"email": {"OPS@example.com"}, "password": {adminPassword}}, http.StatusSeeOther)
		var cookie *http.Cookie
		for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
			if ck.Name == "foyer_admin" && ck.MaxAge > 0 {
				cookie = ck
			}
		}
		if cookie == nil {
			t.Fatalf("no session cookie in %v", r.Header["Set-Cookie"])
		}
		if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.MaxAge != int((12*time.Hour)/time.Second) || cookie.Path != "/admin/" {
			t.Fatalf("cookie %+v", cookie)
		}
		mustContain(t, cl.get("/admin/users", http.StatusOK).Body, "ops@example.com", "Sign out")
		got, err := c.admins.FindAdminByEmail(t.Context(), adminEmail)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastLoginAt == nil || !got.LastLoginAt.Equal(start) {
			t.Fatalf("LastLoginAt = %v, want %v", got.LastLoginAt, start)
		}
		if diff := cmp.Diff([]string{"admin.login 303"}, c.auditActions(t, a.ID)); diff != "" {
			t.Fatalf("audit (-want +got):\n%s", diff)
		}
	})
	t.Run("OKNext", func(t *testing.T) {
		c := setup(t)
		c.createAdmin(t, adminEmail)
		cl := c.client(t)
		r := cl.get("/admin/users?state=pending", http.StatusSeeOther)
		if r.Location() != "/admin/login?next=%2Fadmin%2Fusers%3Fstate%3Dpending" {
			t.Fatalf("redirect to %q", r.Location())
		}
		r = cl.post(r.Location(), "/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}, "next": {"/admin/users?state=pending"}}, http.StatusSeeOther)
		if r.Location() != "/admin/users?state=pending" {
			t.Fatalf("redirect to %q", r.Location())
		}
	})
	t.Run("ErrOpenRedirect", func(t *testing.T) {
		c := setup(t)
		c.createAdmin(t, adminEmail)
		cl := c.client(t)
		r := cl.post("/admin/login", "/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}, "next": {"//evil.example/admin/"}}, http.StatusSeeOther)
		if r.Location() != "/admin/" {
			t.Fatalf("redirect to %q", r.Location())
		}
	})
	t.Run("ErrInvalidCredentials", func(t *testing.T) {
		c := setup(t)
		a := c.createAdmin(t, adminEmail)
		cl := c.client(t)
		wrong := cl.post("/admin/login", "/admin/login", url.Values{"email": {adminEmail}, "password": {"wrong password"}}, http.StatusUnauthorized)
		unknown := cl.post("/admin/login", "/admin/login", url.Values{"email": {"nobody@example.com"}, "password": {adminPassword}}, http.StatusUnauthorized)
		for _, r := range []*response{wrong, unknown} {
			mustContain(t, r.Body, "The email address, password or authentication code is not right.")
		}
		if r := cl.do("GET", "/admin/", nil); r.Status != http.StatusSeeOther {
			t.Fatalf("signed in after failures: %d", r.Status)
		}
		if diff := cmp.Diff([]string{"admin.login.failed 401"}, c.auditActions(t, a.ID)); diff != "" {
			t.Fatalf("audit (-want +got):\n%s", diff)
		}
	})
	t.Run("ErrRateLimited", func(t *testing.T) {
		c := setup(t)
		c.createAdmin(t, adminEmail)
		cl := c.client(t)
		for range admin.SignInFailuresPerEmail {
			cl.post("/admin/login", "/admin/login", url.Values{"email": {adminEmail}, "password": {"wrong password"}}, http.StatusUnauthorized)
		}
		// Even the right password waits now.
		r := cl.post("/admin/login", "/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}, http.StatusTooManyRequests)
		mustContain(t, r.Body, "Too many failed sign-ins.")
		// The allowance comes back over the window.
		c.clock.Advance(admin.SignInFailureWindow)
		cl.signIn(adminEmail, "")
	})
	t.Run("ErrFormToken", func(t *testing.T) {
		c := setup(t)
		c.createAdmin(t, adminEmail)
		cl := c.client(t)
		cl.get("/admin/login", http.StatusOK)
		r := cl.do("POST", "/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
		if r.Status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", r.Status)
		}
		mustContain(t, r.Body, "The sign-in form had expired.")
	})
	t.Run("OKHostCookie", func(t *testing.T) {
		// Behind HTTPS the cookie is __Host- prefixed and Secure.
		c := setup(t)
		c.createAdmin(t, adminEmail)
		public, _ := url.Parse("https://foyer.example")
		h := admin.NewHandler(admin.Config{PublicURL: public, Now: c.clock.Now}, admin.Deps{
			Admins: c.admins, Audit: c.audit, Users: c.users, HashPassword: hashPassword, VerifyPassword: verifyPassword,
		}, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "https://foyer.example/admin/login", nil))
		pre := rec.Result().Cookies()
		if len(pre) != 1 || pre[0].Name != "__Host-foyer_admin_signin" || !pre[0].Secure || pre[0].Path != "/" {
			t.Fatalf("sign-in cookie %+v", pre)
		}
		token := csrfToken(t, rec.Body.String())
		req := httptest.NewRequest("POST", "https://foyer.example/admin/login", strings.NewReader(url.Values{"csrf": {token}, "email": {adminEmail}, "password": {adminPassword}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(pre[0])
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("status %d\n%s", rec.Code, rec.Body)
		}
		var session *http.Cookie
		for _, ck := range rec.Result().Cookies() {
			if ck.Name == "__Host-foyer_admin" {
				session = ck
			}
		}
		if session == nil || !session.Secure || !session.HttpOnly || session.Path != "/" || session.SameSite != http.SameSiteStrictMode {
			t.Fatalf("session cookie %+v", session)
		}
	})
}

func TestTOTP(t *testing.T) {
	c := setup(t)
	cl := c.signedIn(t)
	a, err := c.admins.FindAdminByEmail(t.Context(), adminEmail)
	if err != nil {
		t.Fatal(err)
	}

	page := cl.get("/admin/settings/totp", http.StatusOK).Body
	secret := secretPattern.FindStringSubmatch(page)
	if secret == nil {
		t.Fatalf("no secret on the page:\n%s", page)
	}
	mustContain(t, page, "otpauth://totp/Foyer:ops@example.com?", "secret="+secret[1])
	// Showing the page stores nothing.
	if got, _ := c.admins.FindAdminByEmail(t.Context(), adminEmail); got.TOTPSecret != "" {
		t.Fatal("the secret was stored before a code confirmed it")
	}

	t.Run("ErrWrongCode", func(t *testing.T) {
		r := cl.post("/admin/settings", "/admin/settings/totp", url.Values{"secret": {secret[1]}, "code": {"000000"}}, http.StatusUnprocessableEntity)
		mustContain(t, r.Body, "That code is not right.", secret[1])
		if got, _ := c.admins.FindAdminByEmail(t.Context(), adminEmail); got.TOTPSecret != "" {
			t.Fatal("a wrong code enabled TOTP")
		}
	})
	t.Run("OKEnable", func(t *testing.T) {
		r := cl.post("/admin/settings", "/admin/settings/totp", url.Values{"secret": {secret[1]}, "code": {c.totpCode(t, secret[1])}}, http.StatusSeeOther)
		if r.Location() != "/admin/settings?notice=totp-enabled" {
			t.Fatalf("redirect to %q", r.Location())
		}
		if got, _ := c.admins.FindAdminByEmail(t.Context(), adminEmail); got.TOTPSecret != secret[1] {
			t.Fatal("TOTP not enabled")
		}
	})
	t.Run("ErrSignInWithoutCode", func(t *testing.T) {
		other := c.client(t)
		other.post("/admin/login", "/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}, http.StatusUnauthorized)
	})
	t.Run("ErrReplay", func(t *testing.T) {
		// The code that enabled TOTP cannot sign in within its window.
		other := c.client(t)
		other.post("/admin/login", "/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}, "code": {c.totpCode(t, secret[1])}}, http.StatusUnauthorized)
	})
	t.Run("OKSignInWithCode", func(t *testing.T) {
		c.clock.Advance(30 * time.Second)
		other := c.client(t)
		other.signIn(adminEmail, c.totpCode(t, secret[1]))
	})
	t.Run("OKDisable", func(t *testing.T) {
		c.clock.Advance(30 * time.Second)
		cl.post("/admin/settings", "/admin/settings/totp/disable", url.Values{"code": {"123"}}, http.StatusUnprocessableEntity)
		cl.post("/admin/settings", "/admin/settings/totp/disable", url.Values{"code": {c.totpCode(t, secret[1])}}, http.StatusSeeOther)
		if got, _ := c.admins.FindAdminByEmail(t.Context(), adminEmail); got.TOTPSecret != "" {
			t.Fatal("TOTP still enabled")
		}
	})
	want := []string{"admin.login 303", "admin.totp.enable 303", "admin.login.failed 401", "admin.login.failed 401", "admin.login 303", "admin.totp.disable 303"}
	if diff := cmp.Diff(want, c.auditActions(t, a.ID)); diff != "" {
		t.Fatalf("audit (-want +got):\n%s", diff)
	}
}

func TestSession(t *testing.T) {
	t.Run("ErrNoSession", func(t *testing.T) {
		c := setup(t)
		u := c.anonymous(t, `{}`)
		cl := c.client(t)
		if r := cl.do("GET", "/admin/users/"+u.ID, nil); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location(), "/admin/login?next=") {
			t.Fatalf("GET without session: %d %q", r.Status, r.Location())
		}
		r := cl.do("POST", "/admin/users/"+u.ID+"/delete", url.Values{"csrf": {"x"}})
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("POST without session: %d", r.Status)
		}
		if _, err := c.users.FindUserByID(t.Context(), u.ID); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		c := setup(t)
		cl := c.signedIn(t)
		c.clock.Advance(12*time.Hour - time.Second)
		cl.get("/admin/users", http.StatusOK)
		c.clock.Advance(time.Second)
		cl.get("/admin/users", http.StatusSeeOther)
	})
	t.Run("OKLogout", func(t *testing.T) {
		c := setup(t)
		cl := c.signedIn(t)
		r := cl.post("/admin/", "/admin/logout", nil, http.StatusSeeOther)
		if r.Location() != "/admin/login?notice=signed-out" {
			t.Fatalf("redirect to %q", r.Location())
		}
		mustContain(t, cl.get(r.Location(), http.StatusOK).Body, "You are signed out.")
		cl.get("/admin/", http.StatusSeeOther)
	})
	t.Run("ErrStolenCookieAfterLogout", func(t *testing.T) {
		c := setup(t)
		cl := c.signedIn(t)
		u, _ := url.Parse(c.URL + "/admin/")
		stolen := cl.http.Jar.Cookies(u)
		cl.post("/admin/", "/admin/logout", nil, http.StatusSeeOther)
		thief := c.client(t)
		thief.http.Jar.SetCookies(u, stolen)
		thief.get("/admin/", http.StatusSeeOther)
	})
}

func TestCSRF(t *testing.T) {
	c := setup(t)
	cl := c.signedIn(t)
	u := c.anonymous(t, `{"cart":[1]}`)
	page := "/admin/users/" + u.ID
	stillThere := func(t *testing.T) {
		t.Helper()
		if _, err := c.users.FindUserByID(t.Context(), u.ID); err != nil {
			t.Fatalf("the user is gone: %v", err)
		}
	}
	t.Run("OKGetChangesNothing", func(t *testing.T) {
		mustContain(t, cl.get(page+"/delete", http.StatusOK).Body, "Delete this user")
		stillThere(t)
	})
	t.Run("ErrMissingToken", func(t *testing.T) {
		if r := cl.do("POST", page+"/delete", url.Values{}); r.Status != http.StatusForbidden {
			t.Fatalf("status %d", r.Status)
		}
		stillThere(t)
	})
	t.Run("ErrOtherSessionsToken", func(t *testing.T) {
		other := c.client(t)
		other.signIn(adminEmail, "")
		token := csrfToken(t, other.get(page, http.StatusOK).Body)
		if r := cl.do("POST", page+"/delete", url.Values{"csrf": {token}}); r.Status != http.StatusForbidden {
			t.Fatalf("status %d", r.Status)
		}
		stillThere(t)
	})
	t.Run("ErrCrossOrigin", func(t *testing.T) {
		token := csrfToken(t, cl.get(page, http.StatusOK).Body)
		cross := c.client(t)
		cross.http.Jar = cl.http.Jar
		cross.header.Set("Sec-Fetch-Site", "cross-site")
		cross.header.Set("Origin", "https://evil.example")
		r := cross.do("POST", page+"/delete", url.Values{"csrf": {token}})
		if r.Status != http.StatusForbidden {
			t.Fatalf("status %d", r.Status)
		}
		mustContain(t, r.Body, "sent from another site")
		stillThere(t)
	})
	t.Run("OK", func(t *testing.T) {
		cl.post(page, page+"/delete", nil, http.StatusSeeOther)
		if _, err := c.users.FindUserByID(t.Context(), u.ID); foyer.ErrorCode(err) != foyer.ENotFound {
			t.Fatalf("err = %v, want not found", err)
		}
	})
}

// TestSecurityHeaders checks the headers every page carries.
func TestSecurityHeaders(t *testing.T) {
	c := setup(t)
	r := c.client(t).get("/admin/login", http.StatusOK)
	for k, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	css := c.client(t).get("/admin/static/admin.css", http.StatusOK)
	if ct := css.Header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("stylesheet Content-Type = %q", ct)
	}
	if r := c.client(t).do("GET", "/admin/nothing-here", nil); r.Status != http.StatusNotFound {
		t.Errorf("unknown page: %d", r.Status)
	}
}

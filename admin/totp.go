package admin

import (
	"crypto/subtle"
	"encoding/base32"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: those of RFC 6238 that every authenticator app
// supports (SHA-1, six digits, 30-second steps). A code is accepted one
// step early or late, for clock drift.
const (
	totpPeriod = 30
	totpSkew   = 1
)

// usedSteps remembers, per admin, the last TOTP time step whose code was
// accepted, so that a code seen over someone's shoulder cannot be used
// again. It is held in memory: behind several instances a code could be
// replayed once on each within its window of at most a minute and a half.
type usedSteps struct {
	mu   sync.Mutex
	last map[string]uint64
}

func newUsedSteps() *usedSteps { return &usedSteps{last: make(map[string]uint64)} }

// use records step for adminID and reports whether it is newer than the
// last one used.
func (u *usedSteps) use(adminID string, step uint64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if last, ok := u.last[adminID]; ok && step <= last {
		return false
	}
	u.last[adminID] = step
	return true
}

// validTOTPSecret reports whether s is a base32 secret of at least 80
// bits, as Generate makes and authenticator apps read.
func validTOTPSecret(s string) bool {
	if len(s) < 16 || len(s) > 128 {
		return false
	}
	_, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	return err == nil
}

// totpStep returns the step of secret whose code is code near now, or
// false. code may contain spaces, as apps show "123 456".
func totpStep(secret, code string, now time.Time) (uint64, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 || !validTOTPSecret(secret) {
		return 0, false
	}
	step := uint64(now.Unix()) / totpPeriod
	for s := step - totpSkew; s <= step+totpSkew; s++ {
		want, err := hotp.GenerateCodeCustom(secret, s, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(code), []byte(want)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// checkTOTPSecret reports whether code is a current code of secret that
// the admin with adminID has not used yet, and marks its step used.
func (h *Handler) checkTOTPSecret(adminID, secret, code string, now time.Time) bool {
	s, ok := totpStep(secret, code, now)
	return ok && h.totpUsed.use(adminID, s)
}

// checkTOTP reports whether code is a current, unused code of a's secret.
func (h *Handler) checkTOTP(a *foyer.Admin, code string, now time.Time) bool {
	return h.checkTOTPSecret(a.ID, a.TOTPSecret, code, now)
}

// settingsPage is the data of the settings page.
type settingsPage struct {
	layout
	TOTPEnabled bool
	Admins      []*foyer.Admin
	Error       string
}

// settings handles GET /admin/settings: the admin's account and
// two-step verification, and the list of admins.
func (h *Handler) settings(w http.ResponseWriter, r *http.Request) error {
	s := sessionFromContext(r.Context())
	admins, err := h.deps.Admins.FindAdmins(r.Context())
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "settings", &settingsPage{
		layout:      h.layout(r, "Settings"),
		TOTPEnabled: s.Admin.TOTPSecret != "",
		Admins:      admins,
	})
	return nil
}

// totpPage is the data of the TOTP enrolment page.
type totpPage struct {
	layout
	Secret string
	URI    string
	Error  string
}

// totpEnrolPage handles GET /admin/settings/totp: a fresh secret, shown
// as text and as an otpauth URI. Nothing is stored until a code from it
// is confirmed.
func (h *Handler) totpEnrolPage(w http.ResponseWriter, r *http.Request) error {
	s := sessionFromContext(r.Context())
	key, err := totp.Generate(totp.GenerateOpts{Issuer: h.cfg.TOTPIssuer, AccountName: s.Admin.Email, Period: totpPeriod})
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "totp", &totpPage{layout: h.layout(r, "Two-step verification"), Secret: key.Secret(), URI: h.totpURI(s.Admin.Email, key.Secret())})
	return nil
}

// totpURI returns the otpauth URI of secret for the admin's app.
func (h *Handler) totpURI(email, secret string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", h.cfg.TOTPIssuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	v.Set("period", "30")
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + h.cfg.TOTPIssuer + ":" + email, RawQuery: v.Encode()}
	return u.String()
}

// enableTOTP handles POST /admin/settings/totp {secret, code}: a code
// from the new secret proves the app holds it, then it is stored.
func (h *Handler) enableTOTP(w http.ResponseWriter, r *http.Request) error {
	s := sessionFromContext(r.Context())
	secret := r.PostFormValue("secret")
	if !validTOTPSecret(secret) {
		return foyer.Errorf(foyer.EInvalid, "The secret is not valid. Start again from the settings page.")
	}
	if !h.checkTOTPSecret(s.Admin.ID, secret, r.PostFormValue("code"), h.now()) {
		h.render(w, r, http.StatusUnprocessableEntity, "totp", &totpPage{
			layout: h.layout(r, "Two-step verification"),
			Secret: secret,
			URI:    h.totpURI(s.Admin.Email, secret),
			Error:  "That code is not right. Enter the code your app shows now.",
		})
		return nil
	}
	if err := h.deps.Admins.SetAdminTOTP(r.Context(), s.Admin.ID, secret); err != nil {
		return err
	}
	h.audit(r, "admin.totp.enable", s.Admin.ID, http.StatusSeeOther, nil)
	http.Redirect(w, r, "/admin/settings?notice=totp-enabled", http.StatusSeeOther)
	return nil
}

// disableTOTP handles POST /admin/settings/totp/disable {code}: a current
// code is needed to turn two-step verification off.
func (h *Handler) disableTOTP(w http.ResponseWriter, r *http.Request) error {
	s := sessionFromContext(r.Context())
	if s.Admin.TOTPSecret == "" {
		http.Redirect(w, r, "/admin/settings", http.StatusSeeOther)
		return nil
	}
	if !h.checkTOTP(s.Admin, r.PostFormValue("code"), h.now()) {
		admins, err := h.deps.Admins.FindAdmins(r.Context())
		if err != nil {
			return err
		}
		h.render(w, r, http.StatusUnprocessableEntity, "settings", &settingsPage{
			layout:      h.layout(r, "Settings"),
			TOTPEnabled: true,
			Admins:      admins,
			Error:       "That code is not right. Enter the code your app shows now.",
		})
		return nil
	}
	if err := h.deps.Admins.SetAdminTOTP(r.Context(), s.Admin.ID, ""); err != nil {
		return err
	}
	h.audit(r, "admin.totp.disable", s.Admin.ID, http.StatusSeeOther, nil)
	http.Redirect(w, r, "/admin/settings?notice=totp-disabled", http.StatusSeeOther)
	return nil
}

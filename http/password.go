package http

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/argon2"
	"github.com/foyerhq/foyer/token"
)

// maxLinkTokenLength bounds the token of a conversion or reset link; the
// ones Foyer makes are 43 characters.
const maxLinkTokenLength = 128

// newSecret returns a random token (32 bytes, base64url: 256 bits) and its
// SHA-256, the only form stores keep. Link tokens and refresh tokens are
// made this way.
func newSecret() (raw string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	raw = base64.RawURLEncoding.EncodeToString(b[:])
	return raw, hashSecret(raw)
}

// hashSecret returns the SHA-256 of a token as the stores keep it.
func hashSecret(raw string) []byte {
	sum := sha256.Sum256([]byte(raw))
	return sum[:]
}

// linkToken checks the token of a submitted link: empty or overlong
// tokens cannot be one Foyer issued.
func linkToken(raw string) ([]byte, error) {
	if raw == "" || len(raw) > maxLinkTokenLength {
		return nil, foyer.Errorf(foyer.ETokenInvalid, "The link is not valid.")
	}
	return hashSecret(raw), nil
}

// hashWait is how long a request waits for a password hashing slot
// before it is answered 503.
const hashWait = 10 * time.Second

// hashSlot waits for one of the Config.MaxConcurrentHashes slots. Each
// argon2id run holds its memory cost (64 MiB by default), so bounding how
// many run at once bounds the memory that a burst of sign-ins, however
// large, can take. It returns the function that frees the slot.
func (s *Server) hashSlot() (func(), error) {
	t := time.NewTimer(cmp.Or(s.hashWait, hashWait))
	defer t.Stop()
	select {
	case s.hashSlots <- struct{}{}:
		return func() { <-s.hashSlots }, nil
	case <-t.C:
		return nil, foyer.Errorf(foyer.EUnavailable, "The server is busy; try again shortly.")
	}
}

// hashPassword returns the argon2id hash of p with the configured
// parameters.
func (s *Server) hashPassword(p string) (string, error) {
	release, err := s.hashSlot()
	if err != nil {
		return "", err
	}
	defer release()
	h, err := argon2.HashWith(p, s.cfg.PasswordParams)
	if err != nil {
		return "", &foyer.Error{Code: foyer.EInternal, Err: err}
	}
	return h, nil
}

// verifyPassword reports whether p matches the stored hash. Without a
// stored hash (an unknown address, or an account converted by the server
// API that has no password yet) it verifies against the dummy hash and
// reports false, so both cases cost one argon2id run.
func (s *Server) verifyPassword(p, stored string) (bool, error) {
	release, err := s.hashSlot()
	if err != nil {
		return false, err
	}
	defer release()
	if stored == "" {
		argon2.Verify(p, s.dummyHash())
		return false, nil
	}
	ok, err := argon2.Verify(p, stored)
	if err != nil {
		return false, &foyer.Error{Code: foyer.EInternal, Err: err}
	}
	return ok, nil
}

// newDummyHash hashes a random password that nobody knows with p.
func newDummyHash(p argon2.Params) string {
	raw, _ := newSecret()
	h, err := argon2.HashWith(raw, p)
	if err != nil {
		// crypto/rand does not fail; should it, the default-cost hash
		// below still takes the same time to verify.
		h, _ = argon2.HashWith(raw, argon2.DefaultParams)
	}
	return h
}

// accepted is the body of the 202 answers to conversion and reset
// requests. It is the same whether or not the address has an account.
type accepted struct {
	Status string `json:"status"`
	// ExpiresAt is when a link sent now stops working.
	ExpiresAt time.Time `json:"expires_at"`
}

// forgotPassword handles POST /v1/password/forgot {"email"}: when a
// registered account has this verified address, its reset link is
// replaced and mailed. The answer is 202 with the same body either way,
// and a pending (unverified) address is not an account's address.
// Limited per client IP and per address.
func (s *Server) forgotPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email string `json:"email"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	email, err := foyer.NormalizeEmail(in.Email)
	if err != nil {
		return err
	}
	now := s.now()
	const msg = "Too many password reset requests; try again later."
	if ok, wait := s.limits.resetIP.Allow(s.clientAddr(r), now); !ok {
		return rateLimited(w, wait, msg)
	}
	if ok, wait := s.limits.resetAddress.Allow(email, now); !ok {
		return rateLimited(w, wait, msg)
	}
	raw, hash := newSecret()
	exp := now.Add(s.cfg.ResetTTL).UTC().Truncate(time.Millisecond)
	if err := s.deps.Credentials.RequestPasswordReset(r.Context(), foyer.PasswordResetRequest{
		Email: email, TokenHash: hash, Token: raw, ExpiresAt: exp,
	}); err != nil {
		return err
	}
	s.notifyMail()
	return writeJSON(w, http.StatusAccepted, accepted{Status: "accepted", ExpiresAt: exp})
}

// linkResult is the body of a redeemed link: the account, and whether
// this client was signed in. SessionTokens are given to a client that
// presented its anonymous credential in a header rather than a cookie.
type linkResult struct {
	User     *foyer.User `json:"user"`
	SignedIn bool        `json:"signed_in"`
	*sessionTokens
}

// resetPassword handles POST /v1/password/reset {"token","password"}: the
// link's account gets the new password, and every session and token of
// the account ends. A reset signs nobody in and carries no anonymous data
// along: the person signs in with the new password.
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := foyer.ValidatePassword(in.Password); err != nil {
		return err
	}
	tokenHash, err := linkToken(in.Token)
	if err != nil {
		return err
	}
	now, ip := s.now(), s.clientAddr(r)
	if ok, wait := s.limits.redeemIP.Check(ip, now); !ok {
		return rateLimited(w, wait, "Too many links failed to redeem from this address; try again later.")
	}
	hash, err := s.hashPassword(in.Password)
	if err != nil {
		return err
	}
	ctx := r.Context()
	u, err := s.deps.Credentials.ResetPassword(ctx, tokenHash, hash)
	if foyer.ErrorCode(err) == foyer.ETokenInvalid {
		s.limits.redeemIP.Allow(ip, now)
	}
	if err != nil {
		return err
	}
	// Every session of the account ended with the reset: if this browser
	// was signed in to it, drop the dead cookie. A session of another
	// account in the same browser is left alone.
	if c, err := r.Cookie(s.sessionCookieName); err == nil && c.Value != "" {
		if claims, err := s.deps.Keys.Verify(ctx, c.Value, token.TypeSession); err == nil && claims.Subject == u.ID {
			s.clearSessionCookie(w)
		}
	}
	return writeJSON(w, http.StatusOK, linkResult{User: userDoc(u)})
}

// notifyMail wakes the mail worker, if there is one to wake.
func (s *Server) notifyMail() {
	if s.deps.MailNotify != nil {
		s.deps.MailNotify()
	}
}

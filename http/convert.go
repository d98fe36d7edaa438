package http

import (
	"log/slog"
	"net/http"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/token"
)

// convertMe handles POST /v1/me/convert {"email"}: the anonymous visitor
// asks to save their progress under an address (DESIGN §1). The address
// becomes the pending one and a link is mailed to it; if a registered
// account has it, its owner is told instead. Either way the answer is the
// same 202 (DESIGN §2.4), so it cannot tell whether the address has an
// account. Limited per user, per address and per client IP.
func (s *Server) convertMe(w http.ResponseWriter, r *http.Request) error {
	// The answer must be the same for every visitor and address: drop a
	// token renewal the middleware may have added (the next request
	// renews instead).
	w.Header().Del("Set-Cookie")
	w.Header().Del("Foyer-Token")
	u := UserFromContext(r.Context())
	if !u.Anonymous {
		return foyer.Errorf(foyer.EConflict, "You are signed in to a registered account.")
	}
	var in struct {
		Email string `json:"email"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	return s.requestConversion(w, r, u.ID, in.Email, true)
}

// convertUser handles POST /v1/users/{id}/convert on the server API. With
// {"email"} the app's server starts the visitor's conversion, exactly as
// POST /v1/me/convert does (without the per-IP limit: all of an app's
// calls come from its servers). With {"email","verified":true} the
// calling server vouches for the address: the user becomes registered at
// once, without a password (the person sets one by password reset). That
// is the audited admin door of DESIGN §2.2: it records user.converted,
// naming the API key that used it, and user.email.verified.
func (s *Server) convertUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email    string `json:"email"`
		Verified *bool  `json:"verified"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	id := r.PathValue("id")
	if in.Verified == nil || !*in.Verified {
		return s.requestConversion(w, r, id, in.Email, false)
	}
	email, err := foyer.NormalizeEmail(in.Email)
	if err != nil {
		return err
	}
	ctx := r.Context()
	// The store records the key in user.converted, in the conversion's
	// own transaction, so the audit trail cannot miss it.
	k := APIKeyFromContext(ctx)
	if k == nil {
		return foyer.Errorf(foyer.EUnauthorized, "An API key is required.")
	}
	u, err := s.deps.Conversions.ConvertUser(ctx, id, email, "api_key:"+k.ID)
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "user converted by the server API",
		slog.String("request_id", w.Header().Get("X-Request-Id")),
		slog.String("api_key", k.ID),
		slog.String("user_id", u.ID))
	return s.writeUser(w, r, http.StatusOK, u)
}

// requestConversion starts the conversion of user id to the address raw:
// it makes a link token, stores its hash as the pending request (which
// replaces any earlier one and kills its link), lets the store queue the
// right mail and wakes the mail worker. perIP applies the per-IP limit.
func (s *Server) requestConversion(w http.ResponseWriter, r *http.Request, id, raw string, perIP bool) error {
	email, err := foyer.NormalizeEmail(raw)
	if err != nil {
		return err
	}
	now := s.now()
	const msg = "Too many conversion requests; try again later."
	if perIP {
		if ok, wait := s.limits.convertIP.Allow(s.clientAddr(r), now); !ok {
			return rateLimited(w, wait, msg)
		}
	}
	if ok, wait := s.limits.convertUser.Allow(id, now); !ok {
		return rateLimited(w, wait, msg)
	}
	if ok, wait := s.limits.convertAddress.Allow(email, now); !ok {
		return rateLimited(w, wait, msg)
	}
	tok, hash := newSecret()
	exp := now.Add(s.cfg.ConversionTTL).UTC().Truncate(time.Millisecond)
	if err := s.deps.Conversions.RequestConversion(r.Context(), foyer.ConversionRequest{
		UserID: id, Email: email, TokenHash: hash, Token: tok, ExpiresAt: exp,
	}); err != nil {
		return err
	}
	s.notifyMail()
	return writeJSON(w, http.StatusAccepted, accepted{Status: "accepted", ExpiresAt: exp})
}

// completeConversion handles POST /v1/convert/complete {"token","password"}:
// redeeming the link makes the account registered with the link's address
// and this password, and revokes every earlier token of the account
// (DESIGN §2.3). A fresh session goes only to a client that also presents
// the anonymous credential of that very account: its cookie (which then
// makes way for the session cookie) or, for apps, a bearer or
// Foyer-Anonymous-Token header (the session's tokens are then in the
// body). Anywhere else the account is saved, signed_in is false and the
// person signs in normally: a link never signs a stranger's browser into
// someone's account. Unknown, expired, used and superseded links are
// token_invalid and change nothing.
func (s *Server) completeConversion(w http.ResponseWriter, r *http.Request) error {
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
	ctx := r.Context()
	now, ip := s.now(), s.clientAddr(r)
	if ok, wait := s.limits.redeemIP.Check(ip, now); !ok {
		return rateLimited(w, wait, "Too many links failed to redeem from this address; try again later.")
	}

	// Whose anonymous credential this client holds must be decided now:
	// once the conversion bumps the epoch it no longer verifies.
	var holder string
	cred, hasCred := s.anonymousCredential(r)
	if hasCred {
		au, _, err := s.authenticate(ctx, cred, anonymousTypes)
		switch foyer.ErrorCode(err) {
		case "":
			if au.Anonymous {
				holder = au.ID
			}
		case foyer.EUnauthorized:
		default:
			return err
		}
	}

	hash, err := s.hashPassword(in.Password)
	if err != nil {
		return err
	}
	// The holder's session is created in the conversion's transaction,
	// and only if the link converts the holder's own account: a session
	// that fails to start leaves the account anonymous and the link
	// usable, never converted without its session.
	var (
		sess    *foyer.Session
		refresh string
	)
	if holder != "" {
		sess, refresh = s.newSession(r, holder, now)
	}
	u, err := s.deps.Conversions.CompleteConversion(ctx, tokenHash, hash, sess)
	if foyer.ErrorCode(err) == foyer.ETokenInvalid {
		s.limits.redeemIP.Allow(ip, now)
	}
	if err != nil {
		return err
	}
	if holder == "" || holder != u.ID || sess.ID == "" {
		return writeJSON(w, http.StatusOK, linkResult{User: userDoc(u)})
	}

	toks, err := s.accessTokens(u, sess, refresh, now)
	if err != nil {
		return err
	}
	if cred.cookie == "" {
		return writeJSON(w, http.StatusOK, linkResult{User: userDoc(u), SignedIn: true, sessionTokens: toks})
	}
	raw, err := s.signUser(token.TypeSession, u, sess.ID, now, sess.ExpiresAt)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, raw, sess.ExpiresAt, now)
	s.clearAnonymousCookie(w)
	return writeJSON(w, http.StatusOK, linkResult{User: userDoc(u), SignedIn: true})
}

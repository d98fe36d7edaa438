package http

import (
	"encoding/json"
	"net/http"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// anonymousResponse is the body of POST /v1/anonymous.
type anonymousResponse struct {
	User      *foyer.User `json:"user"`
	Token     string      `json:"token"`
	ExpiresAt time.Time   `json:"expires_at"`
}

// createAnonymous handles POST /v1/anonymous with an optional body
// {"data":{…}}. A request that already carries a valid anonymous
// credential gets its own user back (200) with a fresh token, and its data
// is ignored; anything else creates an anonymous user (201) in one service
// call, subject to the per-IP rate limit.
//
// A cross-origin browser request (per http.CrossOriginProtection) neither
// reads nor sets the cookie: it gets a token in the body only, so another
// site can neither learn the visitor's account nor replace their cookie.
func (s *Server) createAnonymous(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Data json.RawMessage `json:"data"`
	}
	if _, err := s.decodeOptionalJSON(w, r, &in); err != nil {
		return err
	}
	data, err := profileData(in.Data)
	if err != nil {
		return err
	}
	ctx := r.Context()
	sameOrigin := s.csrf.Check(r) == nil
	now := s.now()

	if cred, ok := s.anonymousCredential(r); ok {
		u, _, err := s.authenticate(ctx, cred, anonymousTypes)
		switch code := foyer.ErrorCode(err); code {
		case "":
			if err := s.touch(ctx, u, now); err != nil {
				return err
			}
			return s.respondAnonymous(w, http.StatusOK, u, now, sameOrigin)
		case foyer.EUnauthorized:
			// A stale or revoked credential: the visitor starts afresh.
		default:
			return err
		}
	}

	if ok, wait := s.limits.anonymous.Allow(s.clientAddr(r), now); !ok {
		w.Header().Set("Retry-After", retryAfter(wait))
		return foyer.Errorf(foyer.ERateLimited, "Too many anonymous users were created from this address; try again later.")
	}
	u := &foyer.User{Anonymous: true, Data: data}
	if err := s.deps.Users.CreateUser(ctx, u); err != nil {
		return err
	}
	s.metrics.signups.Inc()
	return s.respondAnonymous(w, http.StatusCreated, u, now, sameOrigin)
}

// respondAnonymous signs a fresh anonymous token for u and writes it with
// the user, as the body and (same-origin only) the cookie.
func (s *Server) respondAnonymous(w http.ResponseWriter, status int, u *foyer.User, now time.Time, setCookie bool) error {
	raw, exp, err := s.issueAnonymous(u, now)
	if err != nil {
		return err
	}
	if setCookie {
		s.setAnonymousCookie(w, raw)
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", "/v1/me")
	}
	return s.writeUserBody(w, status, func(b []byte) ([]byte, error) { return appendAnonymousResponse(b, u, raw, exp) })
}

// appendAnonymousResponse appends the JSON of anonymousResponse{userDoc(u),
// raw, exp} as json.Marshal writes it.
func appendAnonymousResponse(b []byte, u *foyer.User, raw string, exp time.Time) ([]byte, error) {
	b = append(b, `{"user":`...)
	b, err := appendUser(b, u)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"token":`...)
	b = appendJSONString(b, raw)
	b = append(b, `,"expires_at":`...)
	if b, err = appendJSONTime(b, exp); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

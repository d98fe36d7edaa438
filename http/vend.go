package http

import (
	"net/http"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/token"
)

// MaxVendedTTL is the longest lifetime of a vended token.
const MaxVendedTTL = 30 * 24 * time.Hour

// vendResponse is the body of POST /v1/tokens.
type vendResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// vendToken handles POST /v1/tokens: {"user_id"?, "claims":{…},
// "ttl_seconds":n} signs a token of type vended with the calling server's
// custom claims, for its own use (for example a short-lived token another
// service accepts). With user_id, the token is about that user: sub,
// is_anonymous and ep come from the stored user. Reserved claim names, in
// any casing, are refused.
func (s *Server) vendToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		UserID     *string        `json:"user_id"`
		Claims     map[string]any `json:"claims"`
		TTLSeconds int64          `json:"ttl_seconds"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.TTLSeconds < 1 || in.TTLSeconds > int64(MaxVendedTTL/time.Second) {
		return foyer.Errorf(foyer.EInvalid, "ttl_seconds must be from 1 to %d.", int64(MaxVendedTTL/time.Second))
	}
	for name := range in.Claims {
		if token.IsReservedClaim(name) {
			return foyer.Errorf(foyer.EInvalid, "The claim %q is reserved.", name)
		}
	}
	iat := s.now().Truncate(time.Second)
	c := &token.Claims{
		IssuedAt: iat,
		Expiry:   iat.Add(time.Duration(in.TTLSeconds) * time.Second),
		Type:     token.TypeVended,
		Extra:    in.Claims,
	}
	if s.cfg.Audience != "" {
		c.Audience = []string{s.cfg.Audience}
	}
	if in.UserID != nil {
		u, err := s.deps.Users.FindUserByID(r.Context(), *in.UserID)
		if err != nil {
			return err
		}
		c.Subject, c.Anonymous, c.Epoch = u.ID, u.Anonymous, u.Epoch
	}
	raw, err := s.deps.Keys.Sign(c)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, vendResponse{Token: raw, ExpiresAt: c.Expiry.UTC()})
}

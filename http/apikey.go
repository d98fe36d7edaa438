package http

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	foyer "github.com/foyerhq/foyer"
)

// APIKeyPrefix starts every API key secret, so that leaked keys are easy
// to recognise (secret scanners) and to tell apart from tokens.
const APIKeyPrefix = "foyer_sk_"

// apiKeyPrefixLen is how much of the secret is kept in APIKey.Prefix.
const apiKeyPrefixLen = len(APIKeyPrefix) + 6

// NewAPIKey returns a new secret ("foyer_sk_" and 32 random bytes in
// base64url) and the key to store for it: its SHA-256 hash and prefix.
// The caller sets Name and stores it; the secret is shown once.
func NewAPIKey() (secret string, k *foyer.APIKey) {
	var b [32]byte
	rand.Read(b[:])
	secret = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, &foyer.APIKey{Prefix: secret[:apiKeyPrefixLen], Hash: sum[:]}
}

// createdAPIKey is the body of POST /v1/api-keys: the only time the secret
// is shown.
type createdAPIKey struct {
	*foyer.APIKey
	Secret string `json:"secret"`
}

// MaxAPIKeyNameLength is the longest API key name, in characters.
const MaxAPIKeyNameLength = 100

// createAPIKey handles POST /v1/api-keys {"name":…}.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > MaxAPIKeyNameLength {
		return foyer.Errorf(foyer.EInvalid, "name must be 1 to %d characters.", MaxAPIKeyNameLength)
	}
	secret, k := NewAPIKey()
	k.Name = name
	if err := s.deps.APIKeys.CreateAPIKey(r.Context(), k); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/api-keys/"+k.ID)
	return writeJSON(w, http.StatusCreated, createdAPIKey{APIKey: k, Secret: secret})
}

// listAPIKeys handles GET /v1/api-keys. Secrets are never listed.
func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.deps.APIKeys.FindAPIKeys(r.Context())
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []*foyer.APIKey{}
	}
	return writeJSON(w, http.StatusOK, struct {
		APIKeys []*foyer.APIKey `json:"api_keys"`
	}{keys})
}

// deleteAPIKey handles DELETE /v1/api-keys/{id}. A key may delete itself.
func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.deps.APIKeys.DeleteAPIKey(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// signingKeyJSON describes a signing key without its key material.
type signingKeyJSON struct {
	ID        string     `json:"id"`
	Algorithm string     `json:"algorithm"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

// listKeys handles GET /v1/keys: the signing keys that still verify.
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, struct {
		Keys any `json:"keys"`
	}{s.deps.Keys.Keys()})
}

// rotateKeys handles POST /v1/keys/rotate: a new key signs from now on;
// the previous one keeps verifying the tokens it signed.
func (s *Server) rotateKeys(w http.ResponseWriter, r *http.Request) error {
	k, err := s.deps.Keys.Rotate(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, signingKeyJSON{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt})
}

// jwks handles GET /.well-known/jwks.json, the public keys that verify
// Foyer tokens. Caches may keep it for five minutes.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*")
	w.Write(s.deps.Keys.JWKS())
	return nil
}

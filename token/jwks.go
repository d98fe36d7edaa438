package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/go-jose/go-jose/v4"
)

// JWKSPath is where Foyer publishes its JSON Web Key Set, relative to its
// base URL.
const JWKSPath = "/.well-known/jwks.json"

// Defaults of JWKSConfig.
const (
	// DefaultJWKSRefreshInterval is the least time between two fetches of
	// the key set caused by tokens with an unknown kid.
	DefaultJWKSRefreshInterval = 30 * time.Second
	// DefaultJWKSTimeout bounds one fetch of the key set when JWKSConfig
	// gives no HTTP client.
	DefaultJWKSTimeout = 10 * time.Second
)

// maxJWKSSize bounds the key set a JWKSVerifier reads. Foyer's holds a
// handful of public keys, a few hundred bytes each.
const maxJWKSSize = 1 << 20

// JWKSConfig configures a JWKSVerifier.
type JWKSConfig struct {
	// BaseURL is where the verifier reaches Foyer, for example
	// "https://id.example.com" or an internal "http://foyer:8080". The key
	// set is fetched from BaseURL + JWKSPath.
	BaseURL string
	// Issuer is the "iss" every token must have: Foyer's configured public
	// URL. Empty means BaseURL without a trailing slash.
	Issuer string
	// Audience is the "aud" every token must contain. Empty means Issuer,
	// which is also Foyer's default audience.
	Audience string
	// HTTPClient fetches the key set. Nil means a client with a timeout of
	// DefaultJWKSTimeout.
	HTTPClient *http.Client
	// RefreshInterval is the least time between two fetches caused by a
	// token with a kid the verifier does not know (default
	// DefaultJWKSRefreshInterval), so that tokens with made-up kids cannot
	// make the verifier hammer Foyer.
	RefreshInterval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// JWKSVerifier verifies Foyer tokens in another process, such as an app
// behind Foyer, without a network call per token: it fetches Foyer's
// public keys from the JSON Web Key Set once, keeps them, and fetches them
// again only when a token names a key it does not know (Foyer rotated),
// at most once per RefreshInterval. It is safe for concurrent use.
//
// It applies the same pinned rules as Keyring.Verify, through the same
// code: the algorithm comes from the published key, never from the token;
// keys are never taken from the token; "iss", "aud", "exp", "typ" and
// (except for vended tokens) "sub" are checked.
//
// What it cannot check is the per-user epoch ("ep"), which lives in
// Foyer's database: a token revoked by conversion, password reset, an
// admin revoke or deletion of the user keeps verifying here until it
// expires. Apps that need revocation to take effect at once must ask
// Foyer (GET /v1/me with the token) for those requests, and should prefer
// short-lived access tokens over long-lived ones for registered users.
type JWKSVerifier struct {
	url    string
	client *http.Client
	want   pinned
	every  time.Duration
	now    func() time.Time

	keys atomic.Pointer[map[string]*verifyKey]
	// fetching is a one-slot semaphore held during a fetch, so that
	// concurrent callers share one fetch and can give up waiting when
	// their context ends. It guards lastFetch.
	fetching  chan struct{}
	lastFetch time.Time
}

// NewJWKSVerifier returns a verifier for the Foyer at cfg.BaseURL. It
// holds no keys until the first Verify or Refresh fetches them.
func NewJWKSVerifier(cfg JWKSConfig) *JWKSVerifier {
	base := strings.TrimRight(cfg.BaseURL, "/")
	issuer := cfg.Issuer
	if issuer == "" {
		issuer = base
	}
	audience := cfg.Audience
	if audience == "" {
		audience = issuer
	}
	v := &JWKSVerifier{
		url:      base + JWKSPath,
		client:   cfg.HTTPClient,
		want:     pinned{issuer: issuer, audience: audience},
		every:    cfg.RefreshInterval,
		now:      cfg.Now,
		fetching: make(chan struct{}, 1),
	}
	if v.client == nil {
		v.client = &http.Client{Timeout: DefaultJWKSTimeout}
	}
	if v.every <= 0 {
		v.every = DefaultJWKSRefreshInterval
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v
}

// Verify checks raw as Keyring.Verify does and returns its claims, with
// the keys of the fetched key set. It does not check the epoch (see
// JWKSVerifier). Every failure is the same *foyer.Error with code
// EUnauthorized; the cause, a network failure included, is in Err.
func (v *JWKSVerifier) Verify(ctx context.Context, raw, typ string) (*Claims, error) {
	c, err := v.verify(ctx, raw, typ)
	if err != nil {
		return nil, &foyer.Error{Code: foyer.EUnauthorized, Message: invalidMessage, Err: err}
	}
	return c, nil
}

func (v *JWKSVerifier) verify(ctx context.Context, raw, typ string) (*Claims, error) {
	kid, alg, err := parseCompact(raw, typ)
	if err != nil {
		return nil, err
	}
	key, err := v.lookup(ctx, kid)
	if err != nil {
		return nil, err
	}
	c, err := verifyWithKey(raw, alg, typ, key, v.want, v.now())
	if err != nil {
		return nil, err
	}
	return &c.Claims, nil
}

// Refresh fetches the key set now, whatever RefreshInterval says. Call it
// at start-up to fail early when Foyer cannot be reached, or periodically.
// On error the keys fetched before stay in use.
func (v *JWKSVerifier) Refresh(ctx context.Context) error {
	if err := v.acquire(ctx); err != nil {
		return err
	}
	defer v.release()
	return v.fetchLocked(ctx)
}

// lookup returns the key named kid, fetching the key set when it is
// unknown and the last fetch is at least RefreshInterval old.
func (v *JWKSVerifier) lookup(ctx context.Context, kid string) (*verifyKey, error) {
	if keys := v.keys.Load(); keys != nil {
		if key := (*keys)[kid]; key != nil {
			return key, nil
		}
	}
	if err := v.fetchForUnknownKey(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", errUnknownKey, err)
	}
	if keys := v.keys.Load(); keys != nil {
		if key := (*keys)[kid]; key != nil {
			return key, nil
		}
	}
	return nil, errUnknownKey
}

// fetchForUnknownKey fetches the key set unless that was tried less than
// RefreshInterval ago. Concurrent callers wait for one fetch and share it.
func (v *JWKSVerifier) fetchForUnknownKey(ctx context.Context) error {
	if err := v.acquire(ctx); err != nil {
		return err
	}
	defer v.release()
	if !v.lastFetch.IsZero() {
		if d := v.now().Sub(v.lastFetch); d >= 0 && d < v.every {
			return nil
		}
	}
	return v.fetchLocked(ctx)
}

func (v *JWKSVerifier) acquire(ctx context.Context) error {
	select {
	case v.fetching <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (v *JWKSVerifier) release() { <-v.fetching }

// fetchLocked fetches and installs the key set. The fetching slot must be
// held.
func (v *JWKSVerifier) fetchLocked(ctx context.Context) error {
	v.lastFetch = v.now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return fmt.Errorf("token: fetch key set: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return fmt.Errorf("token: fetch key set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("token: fetch key set from %s: status %s", v.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return fmt.Errorf("token: fetch key set: %w", err)
	}
	if len(body) > maxJWKSSize {
		return fmt.Errorf("token: key set from %s is larger than %d bytes", v.url, maxJWKSSize)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return fmt.Errorf("token: key set from %s: %w", v.url, err)
	}
	v.keys.Store(&keys)
	return nil
}

// parseJWKS returns the usable keys of a JSON Web Key Set by kid. A key is
// usable when it is a public key with a kid, an "alg" Foyer signs with,
// key material of the type that algorithm needs (RSA keys of at least
// 2048 bits) and, if "use" is given, "use": "sig". Other keys are left
// out, as is every key of a kid given twice, since which of them is meant
// cannot be known. A set without a usable key is an error.
func parseJWKS(body []byte) (map[string]*verifyKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	keys := make(map[string]*verifyKey, len(doc.Keys))
	dup := make(map[string]bool)
	for _, raw := range doc.Keys {
		key, err := parseJWK(raw)
		if err != nil {
			continue
		}
		id := key.info.ID
		if keys[id] != nil || dup[id] {
			delete(keys, id)
			dup[id] = true
			continue
		}
		keys[id] = key
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable signing key")
	}
	return keys, nil
}

// parseJWK turns one published key into a key ready to verify.
func parseJWK(raw []byte) (*verifyKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	alg, ok := algorithms[jwk.Algorithm]
	switch {
	case !ok:
		return nil, fmt.Errorf("key %q: algorithm %q is not one Foyer signs with", jwk.KeyID, jwk.Algorithm)
	case jwk.KeyID == "":
		return nil, errors.New("key without kid")
	case !jwk.IsPublic():
		return nil, fmt.Errorf("key %q is not a public key", jwk.KeyID)
	case jwk.Use != "" && jwk.Use != "sig":
		return nil, fmt.Errorf("key %q has use %q", jwk.KeyID, jwk.Use)
	}
	if err := checkKeyType(alg, jwk.Key); err != nil {
		return nil, fmt.Errorf("key %q: %w", jwk.KeyID, err)
	}
	return &verifyKey{
		info:   KeyInfo{ID: jwk.KeyID, Algorithm: jwk.Algorithm},
		alg:    alg,
		algs:   []jose.SignatureAlgorithm{alg},
		public: jwk.Key,
	}, nil
}

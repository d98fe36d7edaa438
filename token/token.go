// Package token owns Foyer's token signing keys and the JSON Web Tokens
// signed with them: it creates, encrypts, rotates and retires keys, signs
// and verifies tokens, and publishes the public keys as a JSON Web Key Set;
// JWKSVerifier verifies the same tokens in another process from that set.
// It imports the root package and go-jose only; it must not import any
// storage, HTTP or other Foyer subpackage (keys reach it through
// foyer.SigningKeyService).
//
// JOSE is done with github.com/go-jose/go-jose/v4 and its jwt subpackage
// rather than by hand or with another JWT library, because it is actively
// maintained with a published threat model, it makes the caller pin the
// accepted signature algorithms when parsing (there is no "trust the alg
// header" mode), it never takes a verification key from a token unless
// asked to, and it is the JOSE implementation behind Kubernetes service
// account tokens, Dex and other identity systems, so its parsing has been
// exercised far beyond what Foyer's tests could do.
//
// Foyer adds its own rules on top (DESIGN §2.5): every key has exactly one
// algorithm, fixed when the key is created; Verify looks the key up by "kid"
// and accepts only that key's algorithm; the protected header may only hold
// "alg", "kid" and "typ", so keys and key URLs in a token (jwk, jku, x5u,
// x5c) are refused; "iss", "aud", "exp", "typ" and, except for vended
// tokens, "sub" are required and checked. Revocation by the per-user epoch
// ("ep") is checked by callers against the database, because database
// state beats claims. Keyring.Verify and JWKSVerifier.Verify share one
// implementation of these rules. Keyring.Verify remembers a verified token
// for up to a minute, so that a visitor's requests do not each pay for a
// signature check; every use of a remembered token checks its expiry and
// its key again (see verifyCache).
package token

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Token types, the "typ" claim. Verify is always told which one it expects,
// so a token issued for one purpose is never accepted for another.
const (
	// TypeAnonymous is the long-lived token of an anonymous visitor.
	TypeAnonymous = "anonymous"
	// TypeAccess is the short-lived access token of a registered session.
	TypeAccess = "access"
	// TypeSession is the token of a registered user's browser session.
	TypeSession = "session"
	// TypeVended is a token vended by a server API caller with its own
	// claims; it is the only type that may lack a subject.
	TypeVended = "vended"
)

// ReservedClaims returns the claim names Foyer sets itself. Claims.Extra
// may not use any of them, in any letter case. It returns a new slice each
// time, so no caller can change what Sign refuses.
func ReservedClaims() []string {
	return []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "typ", "is_anonymous", "ep", "sid"}
}

const (
	// clockSkew is how far in the future "nbf" and "iat" may be, to
	// tolerate clocks of several instances that disagree slightly.
	clockSkew = time.Minute
	// maxTokenSize bounds the input Verify will look at. Cookies cannot be
	// larger than about 4 KiB; vended tokens with claims get some room.
	maxTokenSize = 16 << 10
	// invalidMessage is the one message of every verification failure, so
	// that a client learns nothing about why its token was refused.
	invalidMessage = "The token is not valid."
)

// Claims are the claims of a Foyer token.
type Claims struct {
	// ID is "jti", a random id; Sign fills it when empty.
	ID string
	// Issuer is "iss"; Sign fills it with Config.Issuer when empty.
	Issuer string
	// Subject is "sub", the user id. Required for every type but TypeVended.
	Subject string
	// Audience is "aud"; Sign fills it with Config.Audience when empty.
	Audience []string
	// IssuedAt is "iat"; Sign fills it with the current time when zero.
	IssuedAt time.Time
	// Expiry is "exp". Required; it may be at most Config.MaxTokenTTL after
	// IssuedAt so that no token outlives the key that verifies it.
	Expiry time.Time
	// Type is the "typ" claim, one of the Type constants. Required.
	Type string
	// Anonymous is "is_anonymous".
	Anonymous bool
	// Epoch is "ep", the user's epoch when the token was issued. Callers
	// compare it with the stored epoch: a token of an older epoch is revoked.
	Epoch int64
	// SessionID is "sid", the session of a registered user's token.
	SessionID string
	// Extra holds the custom claims of vended tokens. No key may be one of
	// ReservedClaims.
	Extra map[string]any
}

// wireClaims is the JSON form of the registered claims. Sign writes it
// with appendClaims, which FuzzAppendClaims holds to what json.Marshal
// writes for it. Decoding never goes through it directly: encoding/json
// matches struct fields case insensitively, and a custom claim "Typ" must
// never be read as "typ".
type wireClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub,omitempty"`
	Audience  jwt.Audience     `json:"aud"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	Expiry    *jwt.NumericDate `json:"exp"`
	ID        string           `json:"jti"`
	Type      string           `json:"typ"`
	Anonymous bool             `json:"is_anonymous"`
	Epoch     int64            `json:"ep"`
	SessionID string           `json:"sid,omitempty"`
}

// Sign signs c with the current signing key and returns the compact
// serialization. It fills c.ID, c.Issuer, c.Audience and c.IssuedAt when
// they are empty (IssuedAt to whole seconds, as the token carries it), so
// after Sign, c holds what a later Verify returns; on error c is unchanged. It returns EInvalid when
// c lacks Type, Expiry or (for non-vended types) Subject, when Expiry is not
// after IssuedAt or more than Config.MaxTokenTTL after it, or when Extra
// uses a reserved claim name.
func (k *Keyring) Sign(c *Claims) (string, error) {
	set := k.set.Load()
	if set == nil {
		return "", k.notLoaded()
	}
	if c.Type == "" {
		return "", foyer.Errorf(foyer.EInvalid, "A token type is required.")
	}
	if c.Subject == "" && c.Type != TypeVended {
		return "", foyer.Errorf(foyer.EInvalid, "A token subject is required.")
	}
	if c.Expiry.IsZero() {
		return "", foyer.Errorf(foyer.EInvalid, "A token expiry is required.")
	}
	for name := range c.Extra {
		if reserved(name) {
			return "", foyer.Errorf(foyer.EInvalid, "The claim %q is reserved.", name)
		}
	}

	// Fill a copy, so that c changes only when signing succeeds.
	f := *c
	if f.IssuedAt.IsZero() {
		f.IssuedAt = time.Unix(k.cfg.Now().Unix(), 0).UTC()
	}
	iat, exp := f.IssuedAt.Unix(), f.Expiry.Unix()
	if exp <= iat {
		return "", foyer.Errorf(foyer.EInvalid, "The token expiry must be after its issue time.")
	}
	if time.Duration(exp-iat)*time.Second > k.cfg.MaxTokenTTL {
		return "", foyer.Errorf(foyer.EInvalid, "The token lifetime may not exceed %s.", k.cfg.MaxTokenTTL)
	}
	f.Issuer = cmp.Or(f.Issuer, k.cfg.Issuer)
	if len(f.Audience) == 0 {
		f.Audience = []string{k.cfg.Audience}
	}
	if f.ID == "" {
		f.ID = randomID()
	}

	payload := appendClaims(make([]byte, 0, 256), &f, iat, exp)
	if len(f.Extra) > 0 {
		extra, err := json.Marshal(f.Extra)
		if err != nil {
			return "", foyer.Errorf(foyer.EInvalid, "The custom claims cannot be encoded as JSON.")
		}
		// Both are JSON objects and share no key: splice extra's members
		// into payload instead of merging two maps.
		payload = append(payload[:len(payload)-1], ',')
		payload = append(payload, extra[1:]...)
	}

	jws, err := set.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("token: serialize: %w", err)
	}
	*c = f
	return raw, nil
}

// IsReservedClaim reports whether name is a reserved claim in any letter
// case.
func IsReservedClaim(name string) bool { return reserved(name) }

// appendClaims appends the registered claims of c, with iat and exp, as
// json.Marshal writes the wireClaims that hold them, without reflection:
// every sign-up signs a token. Strings that are not plain printable ASCII
// are left to encoding/json.
func appendClaims(b []byte, c *Claims, iat, exp int64) []byte {
	b = append(b, `{"iss":`...)
	b = appendJSONString(b, c.Issuer)
	if c.Subject != "" {
		b = append(b, `,"sub":`...)
		b = appendJSONString(b, c.Subject)
	}
	b = append(b, `,"aud":`...)
	switch len(c.Audience) {
	case 0:
		b = append(b, "null"...)
	case 1: // jwt.Audience writes a single audience as a string
		b = appendJSONString(b, c.Audience[0])
	default:
		for i, a := range c.Audience {
			if i == 0 {
				b = append(b, '[')
			} else {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	}
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, iat, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, exp, 10)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, c.ID)
	b = append(b, `,"typ":`...)
	b = appendJSONString(b, c.Type)
	b = append(b, `,"is_anonymous":`...)
	b = strconv.AppendBool(b, c.Anonymous)
	b = append(b, `,"ep":`...)
	b = strconv.AppendInt(b, c.Epoch, 10)
	if c.SessionID != "" {
		b = append(b, `,"sid":`...)
		b = appendJSONString(b, c.SessionID)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string as json.Marshal writes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// reserved reports whether name is a reserved claim in any letter case.
func reserved(name string) bool {
	for _, r := range ReservedClaims() {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return false
}

// Verify checks raw and returns its claims. It accepts a token only if its
// "kid" names a key of the ring that still verifies, it is signed with
// that key's one algorithm, its header holds nothing but "alg", "kid" and
// "typ", "iss" is Config.Issuer, "aud" contains Config.Audience, "exp" is
// in the future, "nbf" and "iat" are not more than a minute in the future,
// "typ" equals typ and, unless typ is TypeVended, "sub" is set. An unknown
// kid makes it reload the keys from the store (another instance may have
// rotated), at most once every few seconds.
//
// A token that verified in the last minute is not checked again: its
// claims come from a bounded cache keyed by the token's SHA-256, and only
// while the token is unexpired and the key that verified it is still in
// the ring, unchanged and not retired past its grace (see verifyCache).
// Config.VerifyCacheSize sizes or disables the cache.
//
// Every failure is the same *foyer.Error with code EUnauthorized; the cause
// is in Err, for logs only. Verify does not check the epoch: callers
// compare Claims.Epoch with the stored user on every request, so
// revocation takes effect at once whatever the cache holds.
func (k *Keyring) Verify(ctx context.Context, raw, typ string) (*Claims, error) {
	c, err := k.verify(ctx, raw, typ)
	if err != nil {
		return nil, &foyer.Error{Code: foyer.EUnauthorized, Message: invalidMessage, Err: err}
	}
	return c, nil
}

// Causes of verification failures, kept in foyer.Error.Err for logs.
var (
	errMalformed      = errors.New("token: malformed")
	errSignature      = errors.New("token: invalid signature or payload")
	errHeader         = errors.New("token: header not allowed")
	errUnknownKey     = errors.New("token: unknown key id")
	errKeyRetired     = errors.New("token: key retired")
	errAlgorithm      = errors.New("token: algorithm not allowed for key")
	errIssuer         = errors.New("token: wrong issuer")
	errAudience       = errors.New("token: wrong audience")
	errExpired        = errors.New("token: expired")
	errNotYetValid    = errors.New("token: not valid yet")
	errType           = errors.New("token: wrong type")
	errSubject        = errors.New("token: missing subject")
	errMissingExpiry  = errors.New("token: missing expiry")
	errClaimType      = errors.New("token: claim has the wrong JSON type")
	errNotLoadedCause = errors.New("token: keyring not loaded")
)

func (k *Keyring) verify(ctx context.Context, raw, typ string) (*Claims, error) {
	now := k.cfg.Now()
	var sum [sha256.Size]byte
	cached := k.cache != nil && len(raw) <= maxTokenSize
	if cached {
		sum = sha256.Sum256([]byte(raw))
		if set := k.set.Load(); set != nil {
			if c, ok := k.cache.get(&sum, typ, now, set.byID); ok {
				return c, nil
			}
		}
	}
	kid, alg, err := parseCompact(raw, typ)
	if err != nil {
		return nil, err
	}
	key, err := k.lookup(ctx, kid)
	if err != nil {
		return nil, err
	}
	c, err := verifyWithKey(raw, alg, typ, key, pinned{issuer: k.cfg.Issuer, audience: k.cfg.Audience}, now)
	if err != nil {
		return nil, err
	}
	if cached {
		k.cache.put(&sum, c, key, now)
	}
	return &c.Claims, nil
}

// pinned are the claim values a verifier insists on.
type pinned struct {
	issuer   string // "iss" must equal it
	audience string // "aud" must contain it
}

// parseCompact does the checks that need no key: a type is expected, raw
// is a compact JWS of bounded size whose three segments are canonical
// base64url, and its protected header holds only "alg", "kid" and "typ".
// It returns the header's kid and alg.
func parseCompact(raw, typ string) (kid, alg string, err error) {
	if typ == "" {
		return "", "", errType
	}
	if len(raw) > maxTokenSize {
		return "", "", errMalformed
	}
	header, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return "", "", errMalformed
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || !canonical(header) || !canonical(payload) || !canonical(sig) {
		return "", "", errMalformed
	}
	return parseHeader(header)
}

// verifyWithKey checks raw, whose header parseCompact read as alg, against
// key, the key its kid names, and returns its claims. It is the one
// implementation of the pinned rules (DESIGN §2.5), shared by Keyring and
// JWKSVerifier: the key must not be retired past its grace at now, alg
// must be the key's one algorithm, the signature must verify, "iss" and
// "aud" must match want, "exp" must be after now, "nbf" and "iat" not more
// than clockSkew after it, "typ" must be typ and, unless typ is
// TypeVended, "sub" must be set.
func verifyWithKey(raw, alg, typ string, key *verifyKey, want pinned, now time.Time) (*decodedClaims, error) {
	if !key.until.IsZero() && !now.Before(key.until) {
		return nil, errKeyRetired
	}
	if alg != string(key.alg) {
		return nil, errAlgorithm
	}
	// The only algorithm go-jose may accept is the key's own.
	tok, err := jwt.ParseSigned(raw, key.algs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	var members map[string]json.RawMessage
	if err := tok.Claims(key.public, &members); err != nil {
		return nil, fmt.Errorf("%w: %w", errSignature, err)
	}
	c, err := decodeClaims(members)
	if err != nil {
		return nil, err
	}

	if c.Issuer != want.issuer {
		return nil, errIssuer
	}
	if !jwt.Audience(c.Audience).Contains(want.audience) {
		return nil, errAudience
	}
	if c.Expiry.IsZero() {
		return nil, errMissingExpiry
	}
	if !now.Before(c.Expiry) {
		return nil, errExpired
	}
	if c.notBefore.After(now.Add(clockSkew)) || c.IssuedAt.After(now.Add(clockSkew)) {
		return nil, errNotYetValid
	}
	if c.Type != typ {
		return nil, errType
	}
	if c.Subject == "" && typ != TypeVended {
		return nil, errSubject
	}
	return c, nil
}

// canonical reports whether s is unpadded base64url whose unused trailing
// bits are zero. Go's decoder ignores those bits, so without this check the
// last character of a signature could be changed and the token would still
// verify: a token has exactly one accepted spelling.
func canonical(s string) bool {
	if s == "" {
		return false
	}
	var mask byte
	switch len(s) % 4 {
	case 1:
		return false
	case 2:
		mask = 0x0f
	case 3:
		mask = 0x03
	default:
		return true
	}
	v := strings.IndexByte(base64URLAlphabet, s[len(s)-1])
	return v >= 0 && byte(v)&mask == 0
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// parseHeader decodes the protected header and returns its kid and alg.
// Only "alg", "kid" and "typ" are allowed: a header that carries a key or
// points to one (jwk, jku, x5u, x5c), marks extensions critical or changes
// the payload encoding is refused whatever its signature.
func parseHeader(segment string) (kid, alg string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		return "", "", errMalformed
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(b, &h); err != nil {
		return "", "", errMalformed
	}
	var typ string
	for name, v := range h {
		var dst *string
		switch name {
		case "alg":
			dst = &alg
		case "kid":
			dst = &kid
		case "typ":
			dst = &typ
		default:
			return "", "", fmt.Errorf("%w: %q", errHeader, name)
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return "", "", errMalformed
		}
	}
	if kid == "" || alg == "" {
		return "", "", errMalformed
	}
	if _, ok := h["typ"]; ok && typ != "JWT" {
		return "", "", fmt.Errorf("%w: typ %q", errHeader, typ)
	}
	return kid, alg, nil
}

// decodedClaims are Claims plus the claims that are checked but not
// returned.
type decodedClaims struct {
	Claims
	notBefore time.Time
}

// decodeClaims turns the payload's members into Claims, matching claim
// names exactly. Registered claims of the wrong JSON type fail; all other
// members go to Extra.
func decodeClaims(members map[string]json.RawMessage) (*decodedClaims, error) {
	var c decodedClaims
	for name, v := range members {
		var err error
		switch name {
		case "iss":
			err = json.Unmarshal(v, &c.Issuer)
		case "sub":
			err = json.Unmarshal(v, &c.Subject)
		case "aud":
			var aud jwt.Audience
			err = json.Unmarshal(v, &aud)
			c.Audience = aud
		case "exp":
			c.Expiry, err = numericDate(v)
		case "nbf":
			c.notBefore, err = numericDate(v)
		case "iat":
			c.IssuedAt, err = numericDate(v)
		case "jti":
			err = json.Unmarshal(v, &c.ID)
		case "typ":
			err = json.Unmarshal(v, &c.Type)
		case "is_anonymous":
			err = json.Unmarshal(v, &c.Anonymous)
		case "ep":
			err = json.Unmarshal(v, &c.Epoch)
		case "sid":
			err = json.Unmarshal(v, &c.SessionID)
		default:
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				return nil, fmt.Errorf("%w: %q", errClaimType, name)
			}
			if c.Extra == nil {
				c.Extra = make(map[string]any)
			}
			c.Extra[name] = x
			continue
		}
		if err != nil || bytes.Equal(v, []byte("null")) {
			return nil, fmt.Errorf("%w: %q", errClaimType, name)
		}
	}
	return &c, nil
}

// numericDate decodes a JWT NumericDate (seconds since the epoch).
func numericDate(v json.RawMessage) (time.Time, error) {
	var n jwt.NumericDate
	if err := json.Unmarshal(v, &n); err != nil {
		return time.Time{}, err
	}
	return n.Time().UTC(), nil
}

// randomID returns 16 random bytes as unpadded base64url: a key id or a
// token id nobody can guess or collide with.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails; see crypto/rand.Read
	return base64.RawURLEncoding.EncodeToString(b[:])
}

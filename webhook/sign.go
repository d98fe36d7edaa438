package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// This file holds the signing side and the receiving side of the Standard
// Webhooks signature scheme. It imports the standard library only, so that
// the Go SDK can offer Verify to receivers without pulling in anything else.

// Header names of the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret NewSecret returns.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a delivery's timestamp may be from the
// receiver's clock, in either direction, before Verify refuses it. It
// bounds how long a captured request can be replayed.
const DefaultTolerance = 5 * time.Minute

// minKeySize is the shortest key the specification allows (24 bytes). A
// shorter key, and above all the empty key of a secret that is only the
// prefix, would let anyone forge signatures.
const minKeySize = 24

// Errors returned by Verify. Receivers usually only check that the error
// is not nil; these tell apart a request that is malformed, one that is
// outside the tolerance (a replay or a skewed clock) and one that is not
// signed with the secret.
var (
	ErrMissingHeaders      = errors.New("webhook: missing or malformed webhook-id, webhook-timestamp or webhook-signature header")
	ErrTimestamp           = errors.New("webhook: timestamp outside the tolerance")
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
	ErrInvalidSecret       = errors.New("webhook: invalid secret")
)

// NewSecret returns a new endpoint secret: "whsec_" followed by the
// standard base64 encoding of 32 random bytes.
func NewSecret() string {
	key := make([]byte, 32)
	rand.Read(key) // never fails; it crashes the program if the system's generator does
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// decodeSecret returns the HMAC key of secret, which may be given with or
// without its "whsec_" prefix, as receivers often paste it either way.
func decodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrInvalidSecret)
	}
	if len(key) < minKeySize {
		return nil, fmt.Errorf("%w: the key is %d bytes, at least %d are needed", ErrInvalidSecret, len(key), minKeySize)
	}
	return key, nil
}

// signature returns "v1," and the base64 HMAC-SHA256 of "id.timestamp.body"
// under key, timestamp being the decimal string sent in the header.
func signature(key []byte, msgID, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Sign returns the version 1 signature of a message: "v1," followed by the
// base64 HMAC-SHA256, keyed with the decoded secret, of the message id,
// the timestamp in unix seconds and the body, joined by dots. It returns
// ErrInvalidSecret if secret is not a valid secret.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return signature(key, msgID, strconv.FormatInt(ts.Unix(), 10), body), nil
}

// Headers returns the three headers of a signed delivery: webhook-id,
// webhook-timestamp (unix seconds) and webhook-signature, which holds one
// signature per secret, separated by spaces. Passing both the current and
// the previous secret during a rotation lets receivers that still hold the
// previous one keep verifying. It returns ErrInvalidSecret if a secret is
// not valid, or if there is none.
func Headers(secrets []string, msgID string, ts time.Time, body []byte) (http.Header, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret to sign with", ErrInvalidSecret)
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, msgID, ts, body)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
	}
	h := make(http.Header, 3)
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, strings.Join(sigs, " "))
	return h, nil
}

// Verify checks that a received request was signed with secret: that
// header carries a webhook-id, a webhook-timestamp within tolerance of now
// (DefaultTolerance when tolerance is not positive) and a webhook-signature
// with at least one "v1," entry that is the signature of that id, that
// timestamp and body. Entries of other versions are ignored. Signatures
// are compared in constant time. body must be the request body exactly as
// received, before any JSON decoding.
//
// It returns nil when the request is authentic, and otherwise an error
// that is ErrMissingHeaders, ErrTimestamp, ErrNoMatchingSignature or
// ErrInvalidSecret.
func Verify(secret string, header http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	msgID := header.Get(HeaderID)
	timestamp := header.Get(HeaderTimestamp)
	sigs := header.Get(HeaderSignature)
	if msgID == "" || timestamp == "" || sigs == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || strconv.FormatInt(ts, 10) != timestamp {
		// Only the canonical decimal form is accepted: the signature
		// covers the header's text, and a sender only ever writes this.
		return ErrMissingHeaders
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	limit := int64(tolerance / time.Second)
	if n := now.Unix(); ts < n-limit || ts > n+limit {
		return ErrTimestamp
	}

	want := []byte(signature(key, msgID, timestamp, body))
	for sig := range strings.SplitSeq(sigs, " ") {
		if !strings.HasPrefix(sig, "v1,") {
			continue
		}
		// The encoded forms are compared, not the decoded bytes: base64
		// decoding forgives some bits, and a signature that verifies
		// must be exactly the one the sender wrote.
		if subtle.ConstantTimeCompare([]byte(sig), want) == 1 {
			return nil
		}
	}
	return ErrNoMatchingSignature
}

package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// DefaultWebhookTolerance is how far a delivery's webhook-timestamp may be
// from the receiver's clock, either way, when VerifyWebhook is given no
// tolerance. It bounds how long a captured delivery can be replayed.
const DefaultWebhookTolerance = 5 * time.Minute

// Causes of a refused webhook, in the Err of the *foyer.Error that
// VerifyWebhook returns, to tell with errors.Is a malformed request, a
// replay (or a skewed clock) and a forgery apart.
var (
	ErrWebhookHeaders   = errors.New("foyer client: missing or malformed webhook-id, webhook-timestamp or webhook-signature header")
	ErrWebhookTimestamp = errors.New("foyer client: webhook timestamp outside the tolerance")
	ErrWebhookSignature = errors.New("foyer client: no matching webhook signature")
	// ErrWebhookSecret means the receiver's secret is not a valid one; it
	// is returned as is, since it is the receiver's configuration, not
	// the request, that is wrong.
	ErrWebhookSecret = errors.New("foyer client: invalid webhook secret")
)

// minWebhookKeySize is the shortest HMAC key the Standard Webhooks
// specification allows. Anything shorter, the empty key of a secret that
// is only its prefix above all, would let anyone sign.
const minWebhookKeySize = 24

// VerifyWebhook checks that a webhook delivery was signed by Foyer with
// secret, the endpoint's "whsec_…" secret (with or without its prefix), as
// the Standard Webhooks specification describes: h must carry webhook-id,
// a webhook-timestamp (unix seconds) within tolerance of the current time
// (DefaultWebhookTolerance when tolerance is not positive), and a
// webhook-signature listing, separated by spaces, one or more "v1,<base64
// HMAC-SHA256>" signatures of "<id>.<timestamp>.<body>", one of which must
// be right. Other versions are ignored; while Foyer rotates an endpoint's
// secret it signs with both, so either secret verifies. Signatures are
// compared in constant time. body must be the request body exactly as
// received, before any JSON decoding.
//
// It returns nil for an authentic delivery. A refused one gives a
// *foyer.Error with code EUnauthorized whose Err is ErrWebhookHeaders,
// ErrWebhookTimestamp or ErrWebhookSignature; an invalid secret gives
// ErrWebhookSecret. It uses the standard library only.
func VerifyWebhook(secret string, h http.Header, body []byte, tolerance time.Duration) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("%w: not base64", ErrWebhookSecret)
	}
	if len(key) < minWebhookKeySize {
		return fmt.Errorf("%w: the key is %d bytes, at least %d are needed", ErrWebhookSecret, len(key), minWebhookKeySize)
	}
	id, timestamp, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || timestamp == "" || sigs == "" {
		return refused(ErrWebhookHeaders)
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || strconv.FormatInt(ts, 10) != timestamp {
		// The signature covers the header's text: only the one decimal
		// spelling a sender writes is accepted.
		return refused(ErrWebhookHeaders)
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	limit := int64(tolerance / time.Second)
	if now := time.Now().Unix(); ts < now-limit || ts > now+limit {
		return refused(ErrWebhookTimestamp)
	}

	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	want := []byte("v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	for sig := range strings.SplitSeq(sigs, " ") {
		// The encoded forms are compared, not decoded bytes: decoding
		// forgives some bits, and only the exact signature counts.
		if strings.HasPrefix(sig, "v1,") && subtle.ConstantTimeCompare([]byte(sig), want) == 1 {
			return nil
		}
	}
	return refused(ErrWebhookSignature)
}

func refused(cause error) error {
	return &foyer.Error{Code: foyer.EUnauthorized, Message: "The webhook signature is not valid.", Err: cause}
}

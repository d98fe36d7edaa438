package client_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/client"
	"github.com/foyerhq/foyer/webhook"
)

const (
	testSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	otherSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
)

// independentSignature computes a signature the way the Standard Webhooks
// specification spells it out, without Foyer's code.
func independentSignature(t testing.TB, secret, id, timestamp string, body []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "." + string(body)))
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestVerifyWebhook(t *testing.T) {
	body := []byte(`{"type":"user.converted","timestamp":"2026-03-04T05:06:07Z","data":{"user":{"id":"u1"}}}`)
	id := "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	right := independentSignature(t, testSecret, id, ts, body)
	signed, err := webhook.Headers([]string{testSecret}, id, now, body)
	if err != nil {
		t.Fatal(err)
	}
	bySign, err := webhook.Sign(testSecret, id, now, body)
	if err != nil {
		t.Fatal(err)
	}
	rotating, err := webhook.Headers([]string{otherSecret, testSecret}, id, now, body)
	if err != nil {
		t.Fatal(err)
	}
	headers := func(id, ts, sig string) http.Header {
		h := http.Header{}
		for k, v := range map[string]string{"Webhook-Id": id, "Webhook-Timestamp": ts, "Webhook-Signature": sig} {
			if v != "" {
				h.Set(k, v)
			}
		}
		return h
	}
	old := strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)
	future := strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10)

	tests := []struct {
		name      string
		secret    string
		h         http.Header
		body      []byte
		tolerance time.Duration
		want      error // nil, a cause in *foyer.Error, or ErrWebhookSecret
	}{
		{"OKSignedByFoyer", testSecret, signed, body, 0, nil},
		{"OKSign", testSecret, headers(id, ts, bySign), body, 0, nil},
		{"OKIndependent", testSecret, headers(id, ts, right), body, 0, nil},
		{"OKSecretWithoutPrefix", strings.TrimPrefix(testSecret, "whsec_"), signed, body, 0, nil},
		{"OKRotationNewSecret", testSecret, rotating, body, 0, nil},
		{"OKRotationOldSecret", otherSecret, rotating, body, 0, nil},
		{"OKSeveralSignatures", testSecret, headers(id, ts, "v1,AAAA v2,"+right[3:]+"  "+right+" v1a,x"), body, 0, nil},
		{"OKOldWithinTolerance", testSecret, headers(id, old, independentSignature(t, testSecret, id, old, body)), body, 15 * time.Minute, nil},
		{"ErrTamperedBody", testSecret, signed, append([]byte(" "), body...), 0, client.ErrWebhookSignature},
		{"ErrOtherSecret", otherSecret, signed, body, 0, client.ErrWebhookSignature},
		{"ErrOtherID", testSecret, headers("msg_other", ts, right), body, 0, client.ErrWebhookSignature},
		{"ErrNotV1", testSecret, headers(id, ts, "v2,"+right[3:]), body, 0, client.ErrWebhookSignature},
		{"ErrNoVersion", testSecret, headers(id, ts, right[3:]), body, 0, client.ErrWebhookSignature},
		{"ErrTruncated", testSecret, headers(id, ts, right[:len(right)-2]), body, 0, client.ErrWebhookSignature},
		{"ErrOld", testSecret, headers(id, old, independentSignature(t, testSecret, id, old, body)), body, 0, client.ErrWebhookTimestamp},
		{"ErrFuture", testSecret, headers(id, future, independentSignature(t, testSecret, id, future, body)), body, 0, client.ErrWebhookTimestamp},
		{"ErrNonCanonicalTimestamp", testSecret, headers(id, "+"+ts, independentSignature(t, testSecret, id, "+"+ts, body)), body, 0, client.ErrWebhookHeaders},
		{"ErrTimestampNotNumber", testSecret, headers(id, "now", right), body, 0, client.ErrWebhookHeaders},
		{"ErrNoID", testSecret, headers("", ts, right), body, 0, client.ErrWebhookHeaders},
		{"ErrNoTimestamp", testSecret, headers(id, "", right), body, 0, client.ErrWebhookHeaders},
		{"ErrNoSignature", testSecret, headers(id, ts, ""), body, 0, client.ErrWebhookHeaders},
		{"ErrSecretNotBase64", "whsec_!!!", signed, body, 0, client.ErrWebhookSecret},
		{"ErrSecretEmpty", "whsec_", signed, body, 0, client.ErrWebhookSecret},
		{"ErrSecretShort", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short")), signed, body, 0, client.ErrWebhookSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := client.VerifyWebhook(tt.secret, tt.h, tt.body, tt.tolerance)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("VerifyWebhook: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			wantCode := foyer.EUnauthorized
			if tt.want == client.ErrWebhookSecret {
				wantCode = foyer.EInternal
			}
			if got := foyer.ErrorCode(err); got != wantCode {
				t.Fatalf("code %q, want %q", got, wantCode)
			}
		})
	}
}

// FuzzVerifyWebhook checks the header parsing against Foyer's own
// verification and an independent computation: VerifyWebhook never
// panics, agrees with webhook.Verify, and accepts only a request whose
// webhook-signature lists the exact signature of id, timestamp and body.
func FuzzVerifyWebhook(f *testing.F) {
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"type":"user.created"}`)
	sig := independentSignature(f, testSecret, "msg_1", ts, body)
	f.Add("msg_1", ts, sig, body)
	f.Add("msg_1", ts, "v1,AAAA "+sig, body)
	f.Add("msg_1", ts, "v2,"+sig[3:], body)
	f.Add("msg_1", ts, sig+" ", []byte{})
	f.Add("msg_1", "0"+ts, sig, body)
	f.Add("msg_1", "-1", "v1,", body)
	f.Add("", "", "", []byte(nil))
	f.Add("a.b", "9223372036854775807", "v1,"+strings.Repeat("A", 44), []byte("."))
	f.Fuzz(func(t *testing.T, id, timestamp, sigs string, body []byte) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", timestamp)
		h.Set("webhook-signature", sigs)
		tolerance := 5 * time.Minute
		before := time.Now()
		err := client.VerifyWebhook(testSecret, h, body, tolerance)
		theirs := webhook.Verify(testSecret, h, body, tolerance, before)

		// Near the edge of the tolerance the two clocks may disagree.
		if n, perr := strconv.ParseInt(timestamp, 10, 64); perr == nil {
			limit := int64(tolerance / time.Second)
			for _, edge := range []int64{before.Unix() - limit, before.Unix() + limit} {
				if n >= edge-2 && n <= edge+2 {
					return
				}
			}
		}
		if (err == nil) != (theirs == nil) {
			t.Fatalf("VerifyWebhook: %v, webhook.Verify: %v", err, theirs)
		}
		for cause, same := range map[error]error{
			client.ErrWebhookHeaders:   webhook.ErrMissingHeaders,
			client.ErrWebhookTimestamp: webhook.ErrTimestamp,
			client.ErrWebhookSignature: webhook.ErrNoMatchingSignature,
		} {
			if errors.Is(err, cause) != errors.Is(theirs, same) {
				t.Fatalf("VerifyWebhook: %v, webhook.Verify: %v", err, theirs)
			}
		}
		if err != nil {
			if foyer.ErrorCode(err) != foyer.EUnauthorized {
				t.Fatalf("refusal with code %q: %v", foyer.ErrorCode(err), err)
			}
			return
		}
		want := independentSignature(t, testSecret, h.Get("webhook-id"), h.Get("webhook-timestamp"), body)
		found := false
		for s := range strings.SplitSeq(h.Get("webhook-signature"), " ") {
			found = found || s == want
		}
		if !found {
			t.Fatalf("accepted %v without the signature %s", h, want)
		}
	})
}

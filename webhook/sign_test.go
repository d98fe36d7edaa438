package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer/webhook"
)

// specSign is an independent implementation of the signature of the
// Standard Webhooks specification, written from its text: the secret
// without its "whsec_" prefix is base64 and decodes to the HMAC key; the
// signed content is "msg_id.timestamp.payload"; the signature is "v1,"
// and the base64 HMAC-SHA256 of that content.
func specSign(t testing.TB, secret, msgID string, timestamp int64, body []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("decode secret %q: %v", secret, err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", msgID, timestamp, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// specVerify checks a received request the way the specification tells
// receivers to: recompute the signature from the three headers and the
// body, and accept if any of the space-separated signatures equals it.
// The timestamp check is left to the callers, which know their clock.
func specVerify(t testing.TB, secret string, h http.Header, body []byte) bool {
	t.Helper()
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		return false
	}
	want := specSign(t, secret, h.Get("webhook-id"), ts, body)
	for _, sig := range strings.Split(h.Get("webhook-signature"), " ") {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// The published example of the specification (and of the libraries that
// implement it).
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func specHeader(id, ts, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", sig)
	return h
}

func TestNewSecret(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		a, b := webhook.NewSecret(), webhook.NewSecret()
		if a == b {
			t.Fatalf("two secrets are both %q", a)
		}
		for _, s := range []string{a, b} {
			rest, ok := strings.CutPrefix(s, "whsec_")
			if !ok {
				t.Fatalf("secret %q does not start with whsec_", s)
			}
			key, err := base64.StdEncoding.DecodeString(rest)
			if err != nil || len(key) != 32 {
				t.Fatalf("secret %q: key of %d bytes, err %v; want 32 bytes", s, len(key), err)
			}
			if _, err := webhook.Sign(s, "msg", time.Unix(1, 0), nil); err != nil {
				t.Fatalf("Sign with a new secret: %v", err)
			}
		}
	})
}

func TestSign(t *testing.T) {
	t.Run("SpecExample", func(t *testing.T) {
		for _, secret := range []string{specSecret, strings.TrimPrefix(specSecret, "whsec_")} {
			got, err := webhook.Sign(secret, specMsgID, time.Unix(specTimestamp, 0), []byte(specBody))
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if got != specSignature {
				t.Fatalf("Sign = %q, want %q", got, specSignature)
			}
		}
		if got := specSign(t, specSecret, specMsgID, specTimestamp, []byte(specBody)); got != specSignature {
			t.Fatalf("the test's own implementation gives %q, want %q", got, specSignature)
		}
	})

	t.Run("Independent", func(t *testing.T) {
		secret := webhook.NewSecret()
		bodies := [][]byte{nil, []byte("{}"), []byte(`{"type":"user.created","data":{"user":{"id":"x.y"}}}`), {0, 0xff, '.', '\n'}}
		for _, id := range []string{"msg_1", "0190f3c8-7b7e-7c3a-9d4e-1f2a3b4c5d6e", "", "a.b"} {
			for _, ts := range []int64{0, 1, specTimestamp, 4102444800} {
				for _, body := range bodies {
					got, err := webhook.Sign(secret, id, time.Unix(ts, 999_999_999), body)
					if err != nil {
						t.Fatalf("Sign: %v", err)
					}
					if want := specSign(t, secret, id, ts, body); got != want {
						t.Fatalf("Sign(%q, %d, %q) = %q, want %q", id, ts, body, got, want)
					}
				}
			}
		}
	})

	t.Run("ErrInvalidSecret", func(t *testing.T) {
		for _, secret := range []string{"", "whsec_", "whsec_not base64!", "whsec_c2hvcnQ=", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23))} {
			if _, err := webhook.Sign(secret, "msg", time.Unix(1, 0), nil); !errors.Is(err, webhook.ErrInvalidSecret) {
				t.Errorf("Sign with secret %q: err %v, want ErrInvalidSecret", secret, err)
			}
		}
	})
}

func TestHeaders(t *testing.T) {
	ts := time.Unix(1700000000, 500_000_000)
	body := []byte(`{"type":"user.converted"}`)

	t.Run("OK", func(t *testing.T) {
		secret := webhook.NewSecret()
		h, err := webhook.Headers([]string{secret}, "msg_1", ts, body)
		if err != nil {
			t.Fatalf("Headers: %v", err)
		}
		if got := h.Get("webhook-id"); got != "msg_1" {
			t.Errorf("webhook-id = %q", got)
		}
		if got := h.Get("webhook-timestamp"); got != "1700000000" {
			t.Errorf("webhook-timestamp = %q, want unix seconds", got)
		}
		if got, want := h.Get("webhook-signature"), specSign(t, secret, "msg_1", 1700000000, body); got != want {
			t.Errorf("webhook-signature = %q, want %q", got, want)
		}
		if !specVerify(t, secret, h, body) {
			t.Error("the independent implementation does not verify the headers")
		}
	})

	t.Run("Rotation", func(t *testing.T) {
		current, previous := webhook.NewSecret(), webhook.NewSecret()
		h, err := webhook.Headers([]string{current, previous}, "msg_1", ts, body)
		if err != nil {
			t.Fatalf("Headers: %v", err)
		}
		sigs := strings.Split(h.Get("webhook-signature"), " ")
		want := []string{specSign(t, current, "msg_1", ts.Unix(), body), specSign(t, previous, "msg_1", ts.Unix(), body)}
		if len(sigs) != 2 || sigs[0] != want[0] || sigs[1] != want[1] {
			t.Fatalf("webhook-signature entries %q, want %q", sigs, want)
		}
		for _, s := range []string{current, previous} {
			if !specVerify(t, s, h, body) {
				t.Errorf("a receiver holding one of the two secrets cannot verify")
			}
			if err := webhook.Verify(s, h, body, 0, ts); err != nil {
				t.Errorf("Verify: %v", err)
			}
		}
	})

	t.Run("ErrInvalidSecret", func(t *testing.T) {
		for _, secrets := range [][]string{nil, {""}, {webhook.NewSecret(), "whsec_"}} {
			if _, err := webhook.Headers(secrets, "msg_1", ts, body); !errors.Is(err, webhook.ErrInvalidSecret) {
				t.Errorf("Headers(%q): err %v, want ErrInvalidSecret", secrets, err)
			}
		}
	})
}

func TestVerify(t *testing.T) {
	now := time.Unix(specTimestamp, 0)
	other := webhook.NewSecret()
	otherSig := specSign(t, other, specMsgID, specTimestamp, []byte(specBody))
	tests := []struct {
		name      string
		secret    string
		header    http.Header
		body      string
		tolerance time.Duration
		now       time.Time
		want      error
	}{
		{"OK", specSecret, specHeader(specMsgID, "1614265330", specSignature), specBody, 0, now, nil},
		{"OKWithoutPrefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", specHeader(specMsgID, "1614265330", specSignature), specBody, 0, now, nil},
		{"OKSecondOfSeveral", specSecret, specHeader(specMsgID, "1614265330", otherSig+" "+specSignature), specBody, 0, now, nil},
		{"OKOtherVersionsIgnored", specSecret, specHeader(specMsgID, "1614265330", "v1a,abcd v2,"+specSignature[3:]+" "+specSignature), specBody, 0, now, nil},
		{"OKAtTolerance", specSecret, specHeader(specMsgID, "1614265330", specSignature), specBody, 0, now.Add(5 * time.Minute), nil},
		{"OKAtToleranceAhead", specSecret, specHeader(specMsgID, "1614265330", specSignature), specBody, 0, now.Add(-5 * time.Minute), nil},
		{"OKLongerTolerance", specSecret, specHeader(specMsgID, "1614265330", specSignature), specBody, time.Hour, now.Add(59 * time.Minute), nil},
		{"ErrNoMatchingSignature", specSecret, specHeader(specMsgID, "1614265330", otherSig), specBody, 0, now, webhook.ErrNoMatchingSignature},
		{"ErrBodyChanged", specSecret, specHeader(specMsgID, "1614265330", specSignature), `{"test": 2432232315}`, 0, now, webhook.ErrNoMatchingSignature},
		{"ErrIDChanged", specSecret, specHeader("msg_other", "1614265330", specSignature), specBody, 0, now, webhook.ErrNoMatchingSignature},
		{"ErrTimestampChanged", specSecret, specHeader(specMsgID, "1614265331", specSignature), specBody, 0, now, webhook.ErrNoMatchingSignature},
		{"ErrOtherSecret", other, specHeader(specMsgID, "1614265330", specSignature), specBody, 0, now, webhook.ErrNoMatchingSignature},
		{"ErrOnlyOtherVersions", specSecret, specHeader(specMsgID, "1614265330", "v2,"+specSignature[3:]), specBody, 0, now, webhook.ErrNoMatchingSignature},
		{"ErrBareSignature", specSecret, specHeader(specMsgID, "1614265330", specSignature[3:]), specBody, 0, now, webhook.ErrNoMatchingSignature},
		{"ErrCommaJoined", specSecret, specHeader(specMsgID, "1614265330", otherSig+","+specSignature), specBody, 0, now, webhook.ErrNoMatchingSignature},
		{"ErrPaddingBits", specSecret, specHeader(specMsgID, "1614265330", strings.TrimSuffix(specSignature, "OE=")+"OF="), specBody, 0, now, webhook.ErrNoMatchingSignature},
		{"ErrTooOld", specSecret, specHeader(specMsgID, "1614265330", specSignature), specBody, 0, now.Add(5*time.Minute + time.Second), webhook.ErrTimestamp},
		{"ErrTooNew", specSecret, specHeader(specMsgID, "1614265330", specSignature), specBody, 0, now.Add(-5*time.Minute - time.Second), webhook.ErrTimestamp},
		{"ErrMissingID", specSecret, specHeader("", "1614265330", specSignature), specBody, 0, now, webhook.ErrMissingHeaders},
		{"ErrMissingTimestamp", specSecret, specHeader(specMsgID, "", specSignature), specBody, 0, now, webhook.ErrMissingHeaders},
		{"ErrMissingSignature", specSecret, specHeader(specMsgID, "1614265330", ""), specBody, 0, now, webhook.ErrMissingHeaders},
		{"ErrTimestampNotANumber", specSecret, specHeader(specMsgID, "1614265330.0", specSignature), specBody, 0, now, webhook.ErrMissingHeaders},
		{"ErrTimestampLeadingZero", specSecret, specHeader(specMsgID, "01614265330", specSignature), specBody, 0, now, webhook.ErrMissingHeaders},
		{"ErrTimestampPlus", specSecret, specHeader(specMsgID, "+1614265330", specSignature), specBody, 0, now, webhook.ErrMissingHeaders},
		{"ErrTimestampHuge", specSecret, specHeader(specMsgID, "9223372036854775807", specSignature), specBody, 0, now, webhook.ErrTimestamp},
		{"ErrTimestampMin", specSecret, specHeader(specMsgID, "-9223372036854775808", specSignature), specBody, 0, now, webhook.ErrTimestamp},
		{"ErrInvalidSecret", "whsec_", specHeader(specMsgID, "1614265330", specSignature), specBody, 0, now, webhook.ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.secret, tt.header, []byte(tt.body), tt.tolerance, tt.now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify: err %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzVerify checks that Verify never panics, that every request it
// accepts carries a signature that the independent implementation computes
// for that secret, id, timestamp and body, that what Sign produces always
// verifies, and that changing any one byte of a signed request makes it
// fail.
func FuzzVerify(f *testing.F) {
	f.Add(specMsgID, "1614265330", specSignature, []byte(specBody), int64(0), uint(0), byte(1))
	f.Add(specMsgID, "1614265330", "v1a,x v1,"+specSignature[3:]+" ", []byte(specBody), int64(299), uint(40), byte(0x20))
	f.Add("", "", "", []byte(nil), int64(-300), uint(7), byte(0xff))
	f.Add("a.b", "-1", "v1, v1,, ,v1", []byte("."), int64(1<<62), uint(1<<40), byte('.'))
	f.Add("msg", "1614265330", "v1,"+strings.Repeat("A", 43)+"=", []byte{0, 0xff}, int64(-1<<62), uint(3), byte(0x80))
	now := time.Unix(specTimestamp, 0)
	f.Fuzz(func(t *testing.T, id, timestamp, sigs string, body []byte, offset int64, pos uint, flip byte) {
		// Any request: no panic, and acceptance only of what the
		// specification's signature of exactly these values is.
		h := specHeader(id, timestamp, sigs)
		if err := webhook.Verify(specSecret, h, body, 0, now); err == nil {
			ts, perr := strconv.ParseInt(timestamp, 10, 64)
			if perr != nil || strconv.FormatInt(ts, 10) != timestamp {
				t.Fatalf("accepted the timestamp %q", timestamp)
			}
			if d := ts - now.Unix(); d > 300 || d < -300 {
				t.Fatalf("accepted the timestamp %d, %ds from now", ts, d)
			}
			want := specSign(t, specSecret, id, ts, body)
			if !strings.Contains(" "+sigs+" ", " "+want+" ") {
				t.Fatalf("accepted %q, which does not contain the signature %q", sigs, want)
			}
		}

		// A request Sign produced, within the tolerance, verifies.
		ts := now.Add(time.Duration(offset%301) * time.Second)
		sig, err := webhook.Sign(specSecret, id, ts, body)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if id == "" {
			return // a request without an id is malformed, signed or not
		}
		tsText := strconv.FormatInt(ts.Unix(), 10)
		if err := webhook.Verify(specSecret, specHeader(id, tsText, sig), body, 0, now); err != nil {
			t.Fatalf("Verify of a signed request: %v", err)
		}

		// Changing one byte of it, anywhere, makes it fail.
		if flip == 0 {
			flip = 1
		}
		parts := [][]byte{[]byte(id), []byte(tsText), []byte(sig), append([]byte(nil), body...)}
		total := 0
		for _, p := range parts {
			total += len(p)
		}
		i := int(pos % uint(total))
		for _, p := range parts {
			if i < len(p) {
				p[i] ^= flip
				break
			}
			i -= len(p)
		}
		err = webhook.Verify(specSecret, specHeader(string(parts[0]), string(parts[1]), string(parts[2])), parts[3], 0, now)
		if err == nil {
			t.Fatalf("a request with one byte changed verifies: id %q, timestamp %q, signature %q, body %q", parts[0], parts[1], parts[2], parts[3])
		}
	})
}

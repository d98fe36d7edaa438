package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

// badTexts are strings that PostgreSQL cannot store as text and SQLite
// would: both stores must refuse them where they name or select something.
var badTexts = []struct{ name, text string }{
	{"NUL", "a\x00b"},
	{"OnlyNUL", "\x00"},
	{"InvalidUTF8", "a\xffb"},
	{"Truncated", "caf\xc3"},
}

// testText checks that text PostgreSQL cannot store (NUL characters,
// invalid UTF-8) gets the same answer from both stores: EInvalid, with
// nothing written, where it names or selects something, and clean text
// (see foyer.CleanText) where it describes what happened.
func testText(t *testing.T, open Opener) {
	for _, bt := range badTexts {
		t.Run("ErrInvalid/"+bt.name, func(t *testing.T) {
			s, c := setup(t, open)
			u := createAnonymous(t, s, "")
			_, hash := newToken(t)

			t.Run("CreateAPIKey", func(t *testing.T) {
				wantCode(t, s.APIKeys.CreateAPIKey(t.Context(), &foyer.APIKey{Name: bt.text, Prefix: "fy_a", Hash: hash}), foyer.EInvalid)
				wantCode(t, s.APIKeys.CreateAPIKey(t.Context(), &foyer.APIKey{Name: "backend", Prefix: bt.text, Hash: hash}), foyer.EInvalid)
				all, err := s.APIKeys.FindAPIKeys(t.Context())
				ok(t, err)
				if len(all) != 0 {
					t.Fatalf("refused keys were stored: %d", len(all))
				}
			})
			t.Run("CreateAuditEntry", func(t *testing.T) {
				for _, e := range []*foyer.AuditEntry{
					{Actor: bt.text, Action: "GET /v1/users", Status: 200},
					{Actor: "api_key:k1", Action: bt.text, Status: 200},
					{Actor: "api_key:k1", Action: "GET /v1/users/{id}", Target: bt.text, Status: 404},
					{Actor: "api_key:k1", Action: "GET /v1/users", IP: bt.text, Status: 200},
				} {
					wantCode(t, s.Audit.CreateAuditEntry(t.Context(), e), foyer.EInvalid)
				}
				all, err := s.Audit.FindAuditEntries(t.Context(), foyer.AuditFilter{})
				ok(t, err)
				if len(all) != 0 {
					t.Fatalf("refused entries were stored: %d", len(all))
				}
			})
			t.Run("FindAuditEntries", func(t *testing.T) {
				_, err := s.Audit.FindAuditEntries(t.Context(), foyer.AuditFilter{Actor: ptr(bt.text)})
				wantCode(t, err, foyer.EInvalid)
				_, err = s.Audit.FindAuditEntries(t.Context(), foyer.AuditFilter{Target: ptr(bt.text)})
				wantCode(t, err, foyer.EInvalid)
			})
			t.Run("FindUsers", func(t *testing.T) {
				_, err := s.Users.FindUsers(t.Context(), foyer.UserFilter{Email: ptr(bt.text)})
				wantCode(t, err, foyer.EInvalid)
			})
			t.Run("FindEvents", func(t *testing.T) {
				_, err := s.Events.FindEvents(t.Context(), foyer.EventFilter{Type: ptr(bt.text)})
				wantCode(t, err, foyer.EInvalid)
			})
			t.Run("FindMail", func(t *testing.T) {
				_, err := s.Mail.FindMail(t.Context(), ptr(bt.text), 10)
				wantCode(t, err, foyer.EInvalid)
			})
			t.Run("FindDeliveries", func(t *testing.T) {
				_, err := s.Deliveries.FindDeliveries(t.Context(), foyer.DeliveryFilter{Status: ptr(bt.text)})
				wantCode(t, err, foyer.EInvalid)
			})
			t.Run("Webhooks", func(t *testing.T) {
				wantCode(t, s.Webhooks.CreateWebhook(t.Context(), &foyer.Webhook{URL: "https://hooks.example.com/" + bt.text, Secret: "whsec_a", Enabled: true}), foyer.EInvalid)
				wantCode(t, s.Webhooks.CreateWebhook(t.Context(), &foyer.Webhook{URL: "https://hooks.example.com/", Secret: bt.text, Enabled: true}), foyer.EInvalid)
				wantCode(t, s.Webhooks.CreateWebhook(t.Context(), &foyer.Webhook{URL: "https://hooks.example.com/", Secret: "whsec_a", EventTypes: []string{bt.text}, Enabled: true}), foyer.EInvalid)
				all, err := s.Webhooks.FindWebhooks(t.Context())
				ok(t, err)
				if len(all) != 0 {
					t.Fatalf("refused endpoints were stored: %d", len(all))
				}
				w := createWebhook(t, s)
				_, err = s.Webhooks.UpdateWebhook(t.Context(), w.ID, foyer.WebhookUpdate{URL: ptr("https://hooks.example.com/" + bt.text)})
				wantCode(t, err, foyer.EInvalid)
				_, err = s.Webhooks.UpdateWebhook(t.Context(), w.ID, foyer.WebhookUpdate{EventTypes: &[]string{bt.text}})
				wantCode(t, err, foyer.EInvalid)
				_, err = s.Webhooks.RotateWebhookSecret(t.Context(), w.ID, bt.text, c.Now())
				wantCode(t, err, foyer.EInvalid)
				if diff := cmp.Diff(w, findWebhook(t, s, w.ID)); diff != "" {
					t.Fatalf("refused updates changed the endpoint (-want +got):\n%s", diff)
				}
			})
			t.Run("ConvertUser", func(t *testing.T) {
				_, err := s.Conversions.ConvertUser(t.Context(), u.ID, "new@example.com", "admin:"+bt.text)
				wantCode(t, err, foyer.EInvalid)
				if diff := userDiff(u, findUser(t, s, u.ID)); diff != "" {
					t.Fatalf("a refused conversion changed the user (-want +got):\n%s", diff)
				}
			})
		})
	}

	t.Run("OK/Cleaned/MarkMailFailed", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, "")
		requestConversion(t, s, c, u.ID, "new@example.com", time.Hour)
		m := mailTo(t, s, "new@example.com")[0]
		ok(t, s.Mail.MarkMailFailed(t.Context(), m.ID, c.Now().Add(time.Minute), "550 \x00no such \xffuser"))
		if got := mailTo(t, s, "new@example.com")[0].LastError; got != "550 no such \uFFFDuser" {
			t.Fatalf("LastError = %q, want it cleaned", got)
		}
	})
	t.Run("OK/Cleaned/RecordAttempt", func(t *testing.T) {
		s, _ := setup(t, open)
		w, d := oneDelivery(t, s)
		ok(t, s.Deliveries.RecordAttempt(t.Context(), d.ID, foyer.DeliveryAttempt{
			StatusCode: 410, Response: "gone\x00\xfe", Error: "unexpected status 410\x00",
			Status: foyer.DeliveryFailed, DisableWebhook: "gone\xff",
		}))
		got := findDelivery(t, s, d.ID)
		if got.LastResponse != "gone\uFFFD" || got.LastError != "unexpected status 410" {
			t.Fatalf("delivery = %q, %q; want them cleaned", got.LastResponse, got.LastError)
		}
		if fw := findWebhook(t, s, w.ID); fw.Enabled || fw.DisabledReason != "gone\uFFFD" {
			t.Fatalf("endpoint = %+v, want disabled with the reason cleaned", fw)
		}
	})
}

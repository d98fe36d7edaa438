package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

// createWebhook creates an enabled endpoint for the given event types
// (none for all).
func createWebhook(t *testing.T, s Services, types ...string) *foyer.Webhook {
	t.Helper()
	secret, _ := newToken(t)
	w := &foyer.Webhook{URL: "https://hooks.example.com/foyer", EventTypes: types, Enabled: true, Secret: "whsec_" + secret}
	ok(t, s.Webhooks.CreateWebhook(t.Context(), w))
	return w
}

// findWebhook returns the stored endpoint with id, which must exist.
func findWebhook(t *testing.T, s Services, id string) *foyer.Webhook {
	t.Helper()
	w, err := s.Webhooks.FindWebhookByID(t.Context(), id)
	ok(t, err)
	return w
}

func testWebhooks(t *testing.T, open Opener) {
	t.Run("CreateWebhook", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			s, c := setup(t, open)
			w := &foyer.Webhook{
				URL: "https://a.example.com/hook", EventTypes: []string{foyer.EventUserConverted}, Enabled: true, Secret: "whsec_one",
				// Set by the store, never taken from the caller.
				DisabledReason: "gone", FailingSince: ptr(t0), PreviousSecret: "whsec_old",
			}
			ok(t, s.Webhooks.CreateWebhook(t.Context(), w))
			want := &foyer.Webhook{
				ID: w.ID, URL: "https://a.example.com/hook", EventTypes: []string{foyer.EventUserConverted}, Enabled: true,
				Secret: "whsec_one", CreatedAt: c.Now(), UpdatedAt: c.Now(),
			}
			if w.ID == "" {
				t.Fatal("ID not set")
			}
			if diff := cmp.Diff(want, w); diff != "" {
				t.Fatalf("created (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, findWebhook(t, s, w.ID)); diff != "" {
				t.Fatalf("stored (-want +got):\n%s", diff)
			}
		})
		t.Run("OK/AllTypes", func(t *testing.T) {
			s, _ := setup(t, open)
			w := createWebhook(t, s)
			got := findWebhook(t, s, w.ID)
			if len(got.EventTypes) != 0 || !got.Accepts(foyer.EventUserDeleted) {
				t.Fatalf("EventTypes = %v, want every type", got.EventTypes)
			}
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			s, _ := setup(t, open)
			wantCode(t, s.Webhooks.CreateWebhook(t.Context(), &foyer.Webhook{Secret: "whsec_x", Enabled: true}), foyer.EInvalid)
			wantCode(t, s.Webhooks.CreateWebhook(t.Context(), &foyer.Webhook{URL: "https://a.example.com", Enabled: true}), foyer.EInvalid)
		})
	})

	t.Run("FindWebhooks", func(t *testing.T) {
		s, c := setup(t, open)
		got, err := s.Webhooks.FindWebhooks(t.Context())
		ok(t, err)
		if len(got) != 0 {
			t.Fatalf("%d webhooks in an empty store", len(got))
		}
		w1 := createWebhook(t, s)
		c.Advance(time.Second)
		w2 := createWebhook(t, s, foyer.EventUserCreated)
		got, err = s.Webhooks.FindWebhooks(t.Context())
		ok(t, err)
		if diff := cmp.Diff([]*foyer.Webhook{w1, w2}, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})

	for _, nf := range notFoundIDs() {
		t.Run("FindWebhookByID/"+nf.name, func(t *testing.T) {
			s, _ := setup(t, open)
			createWebhook(t, s)
			_, err := s.Webhooks.FindWebhookByID(t.Context(), nf.id)
			wantCode(t, err, foyer.ENotFound)
		})
	}

	t.Run("UpdateWebhook", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			s, c := setup(t, open)
			w := createWebhook(t, s, foyer.EventUserCreated)
			c.Advance(time.Minute)
			got, err := s.Webhooks.UpdateWebhook(t.Context(), w.ID, foyer.WebhookUpdate{
				URL: ptr("https://b.example.com/hook"), EventTypes: &[]string{foyer.EventUserDeleted, foyer.EventUserMerged},
			})
			ok(t, err)
			want := *w
			want.URL = "https://b.example.com/hook"
			want.EventTypes = []string{foyer.EventUserDeleted, foyer.EventUserMerged}
			want.UpdatedAt = c.Now()
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Fatalf("updated (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(&want, findWebhook(t, s, w.ID)); diff != "" {
				t.Fatalf("stored (-want +got):\n%s", diff)
			}

			// Nil fields are left alone; an empty list means every type.
			got, err = s.Webhooks.UpdateWebhook(t.Context(), w.ID, foyer.WebhookUpdate{Enabled: ptr(false)})
			ok(t, err)
			if got.Enabled || got.URL != want.URL || len(got.EventTypes) != 2 || got.DisabledReason != "" {
				t.Fatalf("after disabling: %+v", got)
			}
			got, err = s.Webhooks.UpdateWebhook(t.Context(), w.ID, foyer.WebhookUpdate{EventTypes: &[]string{}})
			ok(t, err)
			if got.Enabled || len(got.EventTypes) != 0 || !got.Accepts(foyer.EventUserCreated) {
				t.Fatalf("after clearing the types: %+v", got)
			}
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			s, _ := setup(t, open)
			w := createWebhook(t, s)
			_, err := s.Webhooks.UpdateWebhook(t.Context(), w.ID, foyer.WebhookUpdate{URL: ptr("")})
			wantCode(t, err, foyer.EInvalid)
			if got := findWebhook(t, s, w.ID); got.URL != w.URL {
				t.Fatalf("URL = %q after a refused update", got.URL)
			}
		})
		for _, nf := range notFoundIDs() {
			t.Run(nf.name, func(t *testing.T) {
				s, _ := setup(t, open)
				createWebhook(t, s)
				_, err := s.Webhooks.UpdateWebhook(t.Context(), nf.id, foyer.WebhookUpdate{Enabled: ptr(true)})
				wantCode(t, err, foyer.ENotFound)
			})
		}
	})

	t.Run("RotateWebhookSecret", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			s, c := setup(t, open)
			w := createWebhook(t, s)
			old := w.Secret
			c.Advance(time.Minute)
			until := c.Now().Add(24 * time.Hour)
			got, err := s.Webhooks.RotateWebhookSecret(t.Context(), w.ID, "whsec_new", until)
			ok(t, err)
			want := *w
			want.Secret, want.PreviousSecret, want.PreviousSecretExpiresAt = "whsec_new", old, &until
			want.UpdatedAt = c.Now()
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Fatalf("rotated (-want +got):\n%s", diff)
			}

			// The old secret keeps signing until it expires, and is gone
			// from then on.
			c.Advance(24*time.Hour - time.Millisecond)
			if diff := cmp.Diff(&want, findWebhook(t, s, w.ID)); diff != "" {
				t.Fatalf("before the old secret expires (-want +got):\n%s", diff)
			}
			c.Advance(time.Millisecond)
			got = findWebhook(t, s, w.ID)
			if got.Secret != "whsec_new" || got.PreviousSecret != "" || got.PreviousSecretExpiresAt != nil {
				t.Fatalf("after the old secret expired: secret %q, previous %q until %v", got.Secret, got.PreviousSecret, got.PreviousSecretExpiresAt)
			}
			all, err := s.Webhooks.FindWebhooks(t.Context())
			ok(t, err)
			if len(all) != 1 || all[0].PreviousSecret != "" {
				t.Fatalf("FindWebhooks = %+v, want the old secret gone", all)
			}
		})
		t.Run("OK/RotateTwice", func(t *testing.T) {
			s, c := setup(t, open)
			w := createWebhook(t, s)
			_, err := s.Webhooks.RotateWebhookSecret(t.Context(), w.ID, "whsec_two", c.Now().Add(time.Hour))
			ok(t, err)
			got, err := s.Webhooks.RotateWebhookSecret(t.Context(), w.ID, "whsec_three", c.Now().Add(time.Hour))
			ok(t, err)
			if got.Secret != "whsec_three" || got.PreviousSecret != "whsec_two" {
				t.Fatalf("secret %q, previous %q; want whsec_three, whsec_two", got.Secret, got.PreviousSecret)
			}
		})
		t.Run("OK/DropOldAtOnce", func(t *testing.T) {
			s, c := setup(t, open)
			w := createWebhook(t, s)
			got, err := s.Webhooks.RotateWebhookSecret(t.Context(), w.ID, "whsec_two", c.Now())
			ok(t, err)
			if got.Secret != "whsec_two" || got.PreviousSecret != "" || got.PreviousSecretExpiresAt != nil {
				t.Fatalf("secret %q, previous %q until %v; want the old one dropped", got.Secret, got.PreviousSecret, got.PreviousSecretExpiresAt)
			}
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			s, c := setup(t, open)
			w := createWebhook(t, s)
			_, err := s.Webhooks.RotateWebhookSecret(t.Context(), w.ID, "", c.Now().Add(time.Hour))
			wantCode(t, err, foyer.EInvalid)
			if got := findWebhook(t, s, w.ID); got.Secret != w.Secret {
				t.Fatal("a refused rotation changed the secret")
			}
		})
		for _, nf := range notFoundIDs() {
			t.Run(nf.name, func(t *testing.T) {
				s, c := setup(t, open)
				createWebhook(t, s)
				_, err := s.Webhooks.RotateWebhookSecret(t.Context(), nf.id, "whsec_x", c.Now().Add(time.Hour))
				wantCode(t, err, foyer.ENotFound)
			})
		}
	})

	t.Run("DeleteWebhook", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			s, _ := setup(t, open)
			w := createWebhook(t, s)
			other := createWebhook(t, s)
			createAnonymous(t, s, "")
			fanOut(t, s)
			ok(t, s.Webhooks.DeleteWebhook(t.Context(), w.ID))
			_, err := s.Webhooks.FindWebhookByID(t.Context(), w.ID)
			wantCode(t, err, foyer.ENotFound)
			if got := deliveries(t, s, foyer.DeliveryFilter{WebhookID: &w.ID}); len(got) != 0 {
				t.Fatalf("%d deliveries of a deleted endpoint remain", len(got))
			}
			if got := deliveries(t, s, foyer.DeliveryFilter{WebhookID: &other.ID}); len(got) != 1 {
				t.Fatalf("another endpoint has %d deliveries, want 1", len(got))
			}
			wantCode(t, s.Webhooks.DeleteWebhook(t.Context(), w.ID), foyer.ENotFound)
		})
		for _, nf := range notFoundIDs() {
			t.Run(nf.name, func(t *testing.T) {
				s, _ := setup(t, open)
				createWebhook(t, s)
				wantCode(t, s.Webhooks.DeleteWebhook(t.Context(), nf.id), foyer.ENotFound)
			})
		}
	})
}

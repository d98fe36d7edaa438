package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testAPIKeys(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		_, h1 := newToken(t)
		_, h2 := newToken(t)
		k1 := &foyer.APIKey{Name: "backend", Prefix: "fy_abc", Hash: h1}
		ok(t, s.APIKeys.CreateAPIKey(t.Context(), k1))
		if k1.ID == "" || !k1.CreatedAt.Equal(c.Now()) || k1.LastUsedAt != nil {
			t.Fatalf("key = %+v", k1)
		}
		c.Advance(time.Second)
		k2 := &foyer.APIKey{Name: "jobs", Prefix: "fy_def", Hash: h2}
		ok(t, s.APIKeys.CreateAPIKey(t.Context(), k2))

		got, err := s.APIKeys.FindAPIKeyByHash(t.Context(), h1)
		ok(t, err)
		if diff := cmp.Diff(k1, got); diff != "" {
			t.Fatalf("FindAPIKeyByHash (-want +got):\n%s", diff)
		}
		all, err := s.APIKeys.FindAPIKeys(t.Context())
		ok(t, err)
		if diff := cmp.Diff([]*foyer.APIKey{k1, k2}, all); diff != "" {
			t.Fatalf("FindAPIKeys (-want +got):\n%s", diff)
		}

		ok(t, s.APIKeys.DeleteAPIKey(t.Context(), k1.ID))
		_, err = s.APIKeys.FindAPIKeyByHash(t.Context(), h1)
		wantCode(t, err, foyer.ENotFound)
		all, err = s.APIKeys.FindAPIKeys(t.Context())
		ok(t, err)
		if diff := cmp.Diff([]*foyer.APIKey{k2}, all); diff != "" {
			t.Fatalf("FindAPIKeys after delete (-want +got):\n%s", diff)
		}
		wantCode(t, s.APIKeys.DeleteAPIKey(t.Context(), k1.ID), foyer.ENotFound)
	})
	t.Run("OK/Empty", func(t *testing.T) {
		s, _ := setup(t, open)
		all, err := s.APIKeys.FindAPIKeys(t.Context())
		ok(t, err)
		if all == nil || len(all) != 0 {
			t.Fatalf("FindAPIKeys = %#v, want an empty list", all)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		s, _ := setup(t, open)
		_, h := newToken(t)
		ok(t, s.APIKeys.CreateAPIKey(t.Context(), &foyer.APIKey{Name: "a", Prefix: "fy_a", Hash: h}))
		wantCode(t, s.APIKeys.CreateAPIKey(t.Context(), &foyer.APIKey{Name: "b", Prefix: "fy_b", Hash: h}), foyer.EConflict)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		s, _ := setup(t, open)
		wantCode(t, s.APIKeys.CreateAPIKey(t.Context(), &foyer.APIKey{Name: "a"}), foyer.EInvalid)
	})
	t.Run("FindAPIKeyByHash/ErrNotFound", func(t *testing.T) {
		s, _ := setup(t, open)
		_, h := newToken(t)
		_, err := s.APIKeys.FindAPIKeyByHash(t.Context(), h)
		wantCode(t, err, foyer.ENotFound)
	})
	for _, nf := range notFoundIDs() {
		t.Run("DeleteAPIKey/"+nf.name, func(t *testing.T) {
			s, _ := setup(t, open)
			wantCode(t, s.APIKeys.DeleteAPIKey(t.Context(), nf.id), foyer.ENotFound)
		})
	}
}

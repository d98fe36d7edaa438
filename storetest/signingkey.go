package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

func testSigningKeys(t *testing.T, open Opener) {
	newKey := func(id string) *foyer.SigningKey {
		return &foyer.SigningKey{ID: id, Algorithm: "ES256",
			PrivateKey: []byte("sealed private " + id), PublicKey: []byte(`{"kty":"EC","kid":"` + id + `"}`)}
	}

	t.Run("OK", func(t *testing.T) {
		s, c := setup(t, open)
		k1 := newKey("k1")
		ok(t, s.SigningKeys.CreateSigningKey(t.Context(), k1))
		if !k1.CreatedAt.Equal(c.Now()) || k1.RetiredAt != nil {
			t.Fatalf("key = %+v", k1)
		}
		c.Advance(time.Hour)
		k2 := newKey("k2")
		ok(t, s.SigningKeys.CreateSigningKey(t.Context(), k2))
		c.Advance(time.Hour)
		k3 := newKey("")
		ok(t, s.SigningKeys.CreateSigningKey(t.Context(), k3))
		if k3.ID == "" {
			t.Fatal("CreateSigningKey did not set an empty ID")
		}

		r1, r2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
		k1.RetiredAt, k2.RetiredAt = &r1, &r2
		got, err := s.SigningKeys.FindSigningKeys(t.Context())
		ok(t, err)
		if diff := cmp.Diff([]*foyer.SigningKey{k3, k2, k1}, got); diff != "" {
			t.Fatalf("FindSigningKeys (-want +got):\n%s", diff)
		}

		n, err := s.SigningKeys.DeleteSigningKeysRetiredBefore(t.Context(), r1)
		ok(t, err)
		if n != 0 {
			t.Fatalf("deleted %d keys retired exactly at the bound", n)
		}
		n, err = s.SigningKeys.DeleteSigningKeysRetiredBefore(t.Context(), r1.Add(time.Millisecond))
		ok(t, err)
		if n != 1 {
			t.Fatalf("deleted %d, want 1", n)
		}
		// The signing key is never deleted, however late the bound.
		n, err = s.SigningKeys.DeleteSigningKeysRetiredBefore(t.Context(), t0.Add(1000*time.Hour))
		ok(t, err)
		if n != 1 {
			t.Fatalf("deleted %d, want 1", n)
		}
		got, err = s.SigningKeys.FindSigningKeys(t.Context())
		ok(t, err)
		if diff := cmp.Diff([]*foyer.SigningKey{k3}, got); diff != "" {
			t.Fatalf("after deletes (-want +got):\n%s", diff)
		}
	})
	t.Run("OK/Empty", func(t *testing.T) {
		s, _ := setup(t, open)
		got, err := s.SigningKeys.FindSigningKeys(t.Context())
		ok(t, err)
		if got == nil || len(got) != 0 {
			t.Fatalf("FindSigningKeys = %#v, want an empty list", got)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		s, c := setup(t, open)
		k1 := newKey("k1")
		ok(t, s.SigningKeys.CreateSigningKey(t.Context(), k1))
		c.Advance(time.Hour)
		wantCode(t, s.SigningKeys.CreateSigningKey(t.Context(), newKey("k1")), foyer.EConflict)
		got, err := s.SigningKeys.FindSigningKeys(t.Context())
		ok(t, err)
		if diff := cmp.Diff([]*foyer.SigningKey{k1}, got); diff != "" {
			t.Fatalf("a failed create retired the signing key (-want +got):\n%s", diff)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		s, _ := setup(t, open)
		wantCode(t, s.SigningKeys.CreateSigningKey(t.Context(), &foyer.SigningKey{ID: "k"}), foyer.EInvalid)
	})
}

package foyer

import (
	"context"
	"time"
)

// SigningKey is a token signing key as stored. The private half is
// encrypted by the token package before it reaches the store; the store
// treats both halves as opaque bytes.
type SigningKey struct {
	// ID is the key id, the "kid" header of tokens it signs.
	ID string
	// Algorithm is the one JOSE algorithm this key signs and verifies
	// with (ES256, EdDSA or RS256); it is never taken from a token.
	Algorithm string
	// PrivateKey is the encrypted private key.
	PrivateKey []byte
	// PublicKey is the public key as a JWK (JSON).
	PublicKey []byte
	CreatedAt time.Time
	// RetiredAt is when a newer key took over signing; nil for the key
	// that signs now. A retired key still verifies until its tokens expire.
	RetiredAt *time.Time
}

// SigningKeyService stores signing keys.
type SigningKeyService interface {
	// CreateSigningKey stores k as the key that signs from now on and
	// retires the previous one, in one transaction. Sets CreatedAt.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// FindSigningKeys returns all stored keys, newest first.
	FindSigningKeys(ctx context.Context) ([]*SigningKey, error)
	// DeleteSigningKeysRetiredBefore deletes keys retired before t, whose
	// tokens have all expired, and reports how many it deleted.
	DeleteSigningKeysRetiredBefore(ctx context.Context, t time.Time) (int, error)
}

package foyer

import (
	"context"
	"time"
)

// APIKey authenticates a calling server on the server API. Only a hash of
// the secret is stored; the secret is shown once, when the key is created.
type APIKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Prefix is the start of the secret, kept so people can tell keys apart.
	Prefix     string     `json:"prefix"`
	Hash       []byte     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// APIKeyService manages API keys.
type APIKeyService interface {
	// CreateAPIKey stores k, setting ID and CreatedAt. Returns EConflict if
	// the hash already exists.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// FindAPIKeyByHash returns the key with the given secret hash.
	// Returns ENotFound.
	FindAPIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	// FindAPIKeys returns every key, oldest first.
	FindAPIKeys(ctx context.Context) ([]*APIKey, error)
	// DeleteAPIKey revokes the key with id. Returns ENotFound.
	DeleteAPIKey(ctx context.Context, id string) error
}

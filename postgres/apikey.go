package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
)

var _ foyer.APIKeyService = (*APIKeyService)(nil)

// APIKeyService implements foyer.APIKeyService.
type APIKeyService struct {
	db *DB
}

// NewAPIKeyService returns an APIKeyService on db.
func NewAPIKeyService(db *DB) *APIKeyService { return &APIKeyService{db: db} }

const apiKeyColumns = `id, name, prefix, hash, created_at, last_used_at`

func scanAPIKey(row pgx.Row) (*foyer.APIKey, error) {
	var k foyer.APIKey
	if err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.CreatedAt, &k.LastUsedAt); err != nil {
		return nil, err
	}
	return &k, nil
}

// CreateAPIKey stores k, setting ID and CreatedAt. Returns EInvalid
// without a hash or name, or EConflict if the hash already exists.
func (s *APIKeyService) CreateAPIKey(ctx context.Context, k *foyer.APIKey) error {
	if len(k.Hash) == 0 || k.Name == "" {
		return foyer.Errorf(foyer.EInvalid, "An API key needs a name and a hash.")
	}
	now := s.db.now()
	id := s.db.newID(now)
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO api_keys (id, name, prefix, hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id, k.Name, k.Prefix, k.Hash, now); err != nil {
		return translate("create API key", err)
	}
	k.ID = id.String()
	k.CreatedAt = now
	k.LastUsedAt = nil
	return nil
}

// FindAPIKeyByHash returns the key with the given secret hash. Returns
// ENotFound.
func (s *APIKeyService) FindAPIKeyByHash(ctx context.Context, hash []byte) (*foyer.APIKey, error) {
	k, err := scanAPIKey(s.db.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "API key not found.")
	}
	if err != nil {
		return nil, translate("find API key", err)
	}
	return k, nil
}

// FindAPIKeys returns every key, oldest first.
func (s *APIKeyService) FindAPIKeys(ctx context.Context) ([]*foyer.APIKey, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, translate("find API keys", err)
	}
	defer rows.Close()
	out := []*foyer.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, translate("find API keys", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("find API keys", err)
	}
	return out, nil
}

// DeleteAPIKey revokes the key with id. Returns ENotFound.
func (s *APIKeyService) DeleteAPIKey(ctx context.Context, id string) error {
	kid, ok := parseID(id)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "API key not found.")
	}
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM api_keys WHERE id = $1`, kid)
	if err != nil {
		return translate("delete API key", err)
	}
	return expectOne(tag, "API key not found.")
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

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

func scanAPIKey(row interface{ Scan(...any) error }) (*foyer.APIKey, error) {
	var (
		k       foyer.APIKey
		id      []byte
		created int64
		used    sql.NullInt64
	)
	if err := row.Scan(&id, &k.Name, &k.Prefix, &k.Hash, &created, &used); err != nil {
		return nil, err
	}
	k.ID = idString(id)
	k.CreatedAt = msTime(created)
	k.LastUsedAt = msTimePtr(used)
	return &k, nil
}

// CreateAPIKey stores k, setting ID and CreatedAt. Returns EInvalid
// without a hash or name, or EConflict if the hash already exists.
func (s *APIKeyService) CreateAPIKey(ctx context.Context, k *foyer.APIKey) error {
	if len(k.Hash) == 0 || k.Name == "" {
		return foyer.Errorf(foyer.EInvalid, "An API key needs a name and a hash.")
	}
	if err := checkText(k.Name, k.Prefix); err != nil {
		return err
	}
	var (
		id  string
		now time.Time
	)
	err := s.db.write(ctx, func(tx *Tx) error {
		uid := s.db.newID(tx.now)
		id, now = uid.String(), tx.now
		if _, err := tx.exec(ctx, `INSERT INTO api_keys (id, name, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			uid[:], k.Name, k.Prefix, k.Hash, ms(tx.now)); err != nil {
			return translate("create API key", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	k.ID = id
	k.CreatedAt = now
	k.LastUsedAt = nil
	return nil
}

// FindAPIKeyByHash returns the key with the given secret hash. Returns
// ENotFound.
func (s *APIKeyService) FindAPIKeyByHash(ctx context.Context, hash []byte) (*foyer.APIKey, error) {
	k, err := scanAPIKey(s.db.queryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "API key not found.")
	}
	if err != nil {
		return nil, translate("find API key", err)
	}
	return k, nil
}

// FindAPIKeys returns every key, oldest first.
func (s *APIKeyService) FindAPIKeys(ctx context.Context) ([]*foyer.APIKey, error) {
	rows, err := s.db.query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, err
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
	return s.db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM api_keys WHERE id = ?`, kid[:])
		if err != nil {
			return translate("delete API key", err)
		}
		return expectOne(res, "API key not found.")
	})
}

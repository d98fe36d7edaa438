package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
)

var _ foyer.SigningKeyService = (*SigningKeyService)(nil)

// SigningKeyService implements foyer.SigningKeyService.
type SigningKeyService struct {
	db *DB
}

// NewSigningKeyService returns a SigningKeyService on db.
func NewSigningKeyService(db *DB) *SigningKeyService { return &SigningKeyService{db: db} }

// signingKeyLock names the advisory lock that serialises rotations of
// several instances.
const signingKeyLock = "foyer.signing_keys"

// CreateSigningKey stores k as the key that signs from now on and retires
// the key that signed until now, in one batch: the first statement takes
// a transaction-level advisory lock, so the retiring statement that
// follows sees the key of any rotation that committed before, and two
// instances rotating at once leave exactly one signing key (the unique
// index signing_keys_current holds that line as well). It sets CreatedAt,
// and ID when it is empty (to a UUIDv7). Returns EInvalid without an
// algorithm or key material, or EConflict if the id exists.
func (s *SigningKeyService) CreateSigningKey(ctx context.Context, k *foyer.SigningKey) error {
	if k.Algorithm == "" || len(k.PrivateKey) == 0 || len(k.PublicKey) == 0 {
		return foyer.Errorf(foyer.EInvalid, "A signing key needs an algorithm and both halves.")
	}
	now := s.db.now()
	id := k.ID
	if id == "" {
		id = s.db.newID(now).String()
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1 || '.' || current_schema(), 0))`, signingKeyLock)
	b.Queue(`UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL`, now)
	b.Queue(`INSERT INTO signing_keys (id, algorithm, private_key, public_key, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id, k.Algorithm, k.PrivateKey, k.PublicKey, now)
	if _, err := execBatch(ctx, s.db.pool, "create signing key", b); err != nil {
		return err
	}
	k.ID = id
	k.CreatedAt = now
	k.RetiredAt = nil
	return nil
}

// FindSigningKeys returns all stored keys, newest first: the signing key,
// then the retired ones by creation time.
func (s *SigningKeyService) FindSigningKeys(ctx context.Context) ([]*foyer.SigningKey, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT id, algorithm, private_key, public_key, created_at, retired_at FROM signing_keys
ORDER BY retired_at IS NULL DESC, created_at DESC, retired_at DESC, id DESC`)
	if err != nil {
		return nil, translate("find signing keys", err)
	}
	defer rows.Close()
	out := []*foyer.SigningKey{}
	for rows.Next() {
		var k foyer.SigningKey
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &k.PublicKey, &k.CreatedAt, &k.RetiredAt); err != nil {
			return nil, translate("find signing keys", err)
		}
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("find signing keys", err)
	}
	return out, nil
}

// DeleteSigningKeysRetiredBefore deletes the keys retired before t and
// reports how many it deleted. The signing key is never deleted.
func (s *SigningKeyService) DeleteSigningKeysRetiredBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1`, ceilMs(t))
	if err != nil {
		return 0, translate("delete signing keys", err)
	}
	return int(tag.RowsAffected()), nil
}

package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/foyerhq/foyer"
)

var _ foyer.SigningKeyService = (*SigningKeyService)(nil)

// SigningKeyService implements foyer.SigningKeyService.
type SigningKeyService struct {
	db *DB
}

// NewSigningKeyService returns a SigningKeyService on db.
func NewSigningKeyService(db *DB) *SigningKeyService { return &SigningKeyService{db: db} }

// CreateSigningKey stores k as the key that signs from now on and retires
// the key that signed until now, in one transaction. It sets CreatedAt,
// and ID when it is empty (to a UUIDv7). Returns EInvalid without an
// algorithm or key material, or EConflict if the id exists.
func (s *SigningKeyService) CreateSigningKey(ctx context.Context, k *foyer.SigningKey) error {
	if k.Algorithm == "" || len(k.PrivateKey) == 0 || len(k.PublicKey) == 0 {
		return foyer.Errorf(foyer.EInvalid, "A signing key needs an algorithm and both halves.")
	}
	var (
		id  = k.ID
		now time.Time
	)
	err := s.db.write(ctx, func(tx *Tx) error {
		if id == "" {
			id = s.db.newID(tx.now).String()
		}
		now = tx.now
		if _, err := tx.exec(ctx, `UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL`, ms(tx.now)); err != nil {
			return translate("retire signing key", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO signing_keys (id, algorithm, private_key, public_key, created_at) VALUES (?, ?, ?, ?, ?)`,
			id, k.Algorithm, k.PrivateKey, k.PublicKey, ms(tx.now)); err != nil {
			return translate("create signing key", err)
		}
		return nil
	})
	if err != nil {
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
	rows, err := s.db.query(ctx, `SELECT id, algorithm, private_key, public_key, created_at, retired_at FROM signing_keys
ORDER BY retired_at IS NULL DESC, created_at DESC, retired_at DESC, id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*foyer.SigningKey{}
	for rows.Next() {
		var (
			k       foyer.SigningKey
			created int64
			retired sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &k.PublicKey, &created, &retired); err != nil {
			return nil, translate("find signing keys", err)
		}
		k.CreatedAt = msTime(created)
		k.RetiredAt = msTimePtr(retired)
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
	var n int64
	err := s.db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?`, ceilMs(t))
		if err != nil {
			return translate("delete signing keys", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

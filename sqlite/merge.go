package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/foyerhq/foyer"
)

var _ foyer.MergeService = (*MergeService)(nil)

// MergeService implements foyer.MergeService.
type MergeService struct {
	db *DB
}

// NewMergeService returns a MergeService on db.
func NewMergeService(db *DB) *MergeService { return &MergeService{db: db} }

// MergeUsers moves the data of the anonymous user from into the
// registered user into, combined by foyer.MergeData under policy, deletes
// from (with its conversion request and mail, through the foreign keys),
// records the alias from → into and user.merged {user, from, into} and
// counts the merge, all in one transaction. Returns ENotFound, EConflict
// if from is not anonymous or into is, EInvalid for an unknown policy, or
// ETooLarge if the merged data would exceed foyer.MaxDataSize.
func (s *MergeService) MergeUsers(ctx context.Context, from, into string, policy foyer.MergePolicy) (*foyer.User, error) {
	fid, ok1 := parseID(from)
	iid, ok2 := parseID(into)
	if !ok1 || !ok2 {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if policy != "" && !policy.Valid() {
		return nil, foyer.Errorf(foyer.EInvalid, "Unknown merge policy %q.", policy)
	}
	var u *foyer.User
	err := s.db.write(ctx, func(tx *Tx) error {
		f, err := findUserByID(ctx, tx, fid)
		if err != nil {
			return err
		}
		if u, err = findUserByID(ctx, tx, iid); err != nil {
			return err
		}
		if !f.Anonymous {
			return foyer.Errorf(foyer.EConflict, "Only an anonymous user can be merged into another.")
		}
		if u.Anonymous {
			return foyer.Errorf(foyer.EConflict, "An anonymous user cannot receive a merge.")
		}
		data, err := foyer.MergeData(u.Data, f.Data, policy)
		if err != nil {
			return err
		}
		if len(data) > foyer.MaxDataSize {
			return foyer.Errorf(foyer.ETooLarge, "The merged data would be larger than %d bytes.", foyer.MaxDataSize)
		}
		if _, err := tx.exec(ctx, `UPDATE users SET data = ?, version = version + 1, updated_at = ? WHERE id = ?`,
			encodeData(data), ms(tx.now), iid[:]); err != nil {
			return translate("merge data", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM users WHERE id = ?`, fid[:]); err != nil {
			return translate("delete merged user", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO aliases (from_id, into_id, created_at) VALUES (?, ?, ?)`,
			fid[:], iid[:], ms(tx.now)); err != nil {
			return translate("record alias", err)
		}
		u.Data = data
		u.Version++
		u.UpdatedAt = tx.now
		if err := addCounts(ctx, tx, 1, counter{utcDay(tx.now), foyer.MetricMerged}); err != nil {
			return err
		}
		return insertUserEvent(ctx, tx, foyer.EventUserMerged, u, map[string]any{"from": f.ID, "into": u.ID})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// FindAlias returns the alias of a merged-away id. Returns ENotFound.
func (s *MergeService) FindAlias(ctx context.Context, from string) (*foyer.Alias, error) {
	fid, ok := parseID(from)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "Alias not found.")
	}
	var (
		into    []byte
		created int64
	)
	err := s.db.queryRow(ctx, `SELECT into_id, created_at FROM aliases WHERE from_id = ?`, fid[:]).Scan(&into, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "Alias not found.")
	}
	if err != nil {
		return nil, translate("find alias", err)
	}
	return &foyer.Alias{From: fid.String(), Into: idString(into), CreatedAt: msTime(created)}, nil
}

package postgres

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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
// from (with its conversion request and mail),
// records the alias from → into and user.merged {user, from, into}, and
// counts the merge. Both
// users are read in one statement and written in one statement that first
// locks both rows, in id order, and applies only if neither changed since
// it read them. Returns ENotFound, EConflict if from is not anonymous or
// into is, EInvalid for an unknown policy, or ETooLarge if the merged data
// would exceed foyer.MaxDataSize.
func (s *MergeService) MergeUsers(ctx context.Context, from, into string, policy foyer.MergePolicy) (*foyer.User, error) {
	fid, ok1 := parseID(from)
	iid, ok2 := parseID(into)
	if !ok1 || !ok2 {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	if policy != "" && !policy.Valid() {
		return nil, foyer.Errorf(foyer.EInvalid, "Unknown merge policy %q.", policy)
	}
	var out *foyer.User
	err := s.db.readModifyWrite(ctx, "merge users", func(q querier, lock string) (bool, error) {
		f, fx, u, ux, err := findPair(ctx, q, fid, iid, lock)
		if err != nil {
			return false, err
		}
		if !f.Anonymous {
			return false, foyer.Errorf(foyer.EConflict, "Only an anonymous user can be merged into another.")
		}
		if u.Anonymous {
			return false, foyer.Errorf(foyer.EConflict, "An anonymous user cannot receive a merge.")
		}
		data, err := foyer.MergeData(u.Data, f.Data, policy)
		if err != nil {
			return false, err
		}
		if len(data) > foyer.MaxDataSize {
			return false, foyer.Errorf(foyer.ETooLarge, "The merged data would be larger than %d bytes.", foyer.MaxDataSize)
		}
		now := s.db.now()
		u.Data = data
		u.Version++
		u.UpdatedAt = now
		ev, err := s.db.userEvent(now, foyer.EventUserMerged, u, map[string]any{"from": f.ID, "into": u.ID})
		if err != nil {
			return false, err
		}
		tag, err := q.Exec(ctx, `WITH g AS (
	SELECT id FROM users WHERE (id = $1 AND xmin = $2) OR (id = $3 AND xmin = $4) ORDER BY id FOR UPDATE
), ok AS (
	SELECT count(*) = 2 AS ok FROM g
), f AS (
	DELETE FROM users WHERE id = $1 AND (SELECT ok FROM ok) RETURNING id
)`+deleteDependents("f")+`, i AS (
	UPDATE users SET data = $5, version = version + 1, updated_at = $6 WHERE id = $3 AND (SELECT ok FROM ok) RETURNING id
), a AS (
	INSERT INTO aliases (from_id, into_id, created_at) SELECT $1, i.id, $6 FROM i
), `+countOne("rc", "f", foyer.MetricMerged, "$6")+`
INSERT INTO events (id, type, user_id, created_at, data) SELECT $7, $8, i.id, $6, $9 FROM i`,
			fid, fx, iid, ux, encodeData(data), now, ev.id, ev.typ, ev.data)
		if err != nil {
			return false, translate("merge users", err)
		}
		out = u
		return tag.RowsAffected() == 1, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// findPair returns the users from and into with their row versions, read
// in one statement (and, with lock, locked in id order). Returns ENotFound
// unless both exist.
func findPair(ctx context.Context, q querier, from, into uuid.UUID, lock string) (f *foyer.User, fx uint32, u *foyer.User, ux uint32, err error) {
	rows, err := q.Query(ctx, `SELECT `+userColumns+`, u.xmin FROM `+userFrom+` WHERE u.id = ANY($1) ORDER BY u.id`+lock,
		[]uuid.UUID{from, into})
	if err != nil {
		return nil, 0, nil, 0, translate("find users", err)
	}
	defer rows.Close()
	for rows.Next() {
		var xmin uint32
		v, err := scanUser(rows, &xmin)
		if err != nil {
			return nil, 0, nil, 0, translate("find users", err)
		}
		if v.ID == from.String() {
			f, fx = v, xmin
		}
		if v.ID == into.String() {
			u, ux = v, xmin
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, nil, 0, translate("find users", err)
	}
	if f == nil || u == nil {
		return nil, 0, nil, 0, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	return f, fx, u, ux, nil
}

// FindAlias returns the alias of a merged-away id. Returns ENotFound.
func (s *MergeService) FindAlias(ctx context.Context, from string) (*foyer.Alias, error) {
	fid, ok := parseID(from)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "Alias not found.")
	}
	a := foyer.Alias{From: fid.String()}
	err := s.db.pool.QueryRow(ctx, `SELECT into_id, created_at FROM aliases WHERE from_id = $1`, fid).Scan(&a.Into, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, foyer.Errorf(foyer.ENotFound, "Alias not found.")
	}
	if err != nil {
		return nil, translate("find alias", err)
	}
	return &a, nil
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/foyerhq/foyer"
)

var _ foyer.AuthRequestService = (*AuthRequestService)(nil)

// AuthRequestService implements foyer.AuthRequestService.
type AuthRequestService struct {
	db *DB
}

// NewAuthRequestService returns an AuthRequestService on db.
func NewAuthRequestService(db *DB) *AuthRequestService { return &AuthRequestService{db: db} }

const authRequestColumns = `id, app_id, params, user_id, auth_time, created_at, expires_at`

func scanAuthRequest(row interface{ Scan(...any) error }) (*foyer.AuthRequest, error) {
	var (
		a                 foyer.AuthRequest
		id, appID, userID []byte
		params            string
		authTime          sql.NullInt64
		created, expires  int64
	)
	if err := row.Scan(&id, &appID, &params, &userID, &authTime, &created, &expires); err != nil {
		return nil, err
	}
	if err := a.DecodeParams([]byte(params)); err != nil {
		return nil, err
	}
	a.ID, a.AppID = idString(id), idString(appID)
	if userID != nil {
		a.UserID = idString(userID)
	}
	if authTime.Valid {
		a.AuthTime = msTime(authTime.Int64)
	}
	a.CreatedAt, a.ExpiresAt = msTime(created), msTime(expires)
	return &a, nil
}

func errAuthRequestNotFound() error {
	return foyer.Errorf(foyer.ENotFound, "Authorization request not found.")
}

// CreateAuthRequest stores a's request fields and ExpiresAt, setting ID
// and CreatedAt; a is not signed in for yet, whatever its UserID says.
// Returns ENotFound if the app does not exist, EInvalid if a holds text
// that cannot be stored.
func (s *AuthRequestService) CreateAuthRequest(ctx context.Context, a *foyer.AuthRequest) error {
	aid, ok := parseID(a.AppID)
	if !ok {
		return errAppNotFound()
	}
	encoded, err := a.EncodeParams()
	if err != nil {
		return err
	}
	params := string(encoded)
	var (
		id  string
		now time.Time
	)
	err = s.db.write(ctx, func(tx *Tx) error {
		var one int
		err := tx.queryRow(ctx, `SELECT 1 FROM apps WHERE id = ?`, aid[:]).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return errAppNotFound()
		}
		if err != nil {
			return translate("find app", err)
		}
		rid := s.db.newID(tx.now)
		if _, err := tx.exec(ctx, `INSERT INTO auth_requests (id, app_id, params, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			rid[:], aid[:], params, ms(tx.now), ms(a.ExpiresAt)); err != nil {
			return translate("create authorization request", err)
		}
		id, now = rid.String(), tx.now
		return nil
	})
	if err != nil {
		return err
	}
	a.ID, a.AppID, a.CreatedAt, a.ExpiresAt = id, aid.String(), now, msTime(ms(a.ExpiresAt))
	a.UserID, a.AuthTime = "", time.Time{}
	return nil
}

// FindAuthRequest returns a live request. Returns ENotFound.
func (s *AuthRequestService) FindAuthRequest(ctx context.Context, id string) (*foyer.AuthRequest, error) {
	rid, ok := parseID(id)
	if !ok {
		return nil, errAuthRequestNotFound()
	}
	return findAuthRequest(ctx, s.db, rid[:], ms(s.db.now()))
}

// findAuthRequest returns the request id if it is live at now (unix ms).
// Returns ENotFound.
func findAuthRequest(ctx context.Context, q querier, id []byte, now int64) (*foyer.AuthRequest, error) {
	a, err := scanAuthRequest(q.queryRow(ctx, `SELECT `+authRequestColumns+` FROM auth_requests WHERE id = ? AND expires_at > ?`, id, now))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errAuthRequestNotFound()
	}
	if err != nil {
		return nil, translate("find authorization request", err)
	}
	return a, nil
}

// CompleteAuthRequest records that the registered user userID signed in
// for the live request id at authTime (now when zero). Completing it
// again for the same user only moves authTime. Returns ENotFound if the
// request or the user does not exist, and EConflict if the request is
// already complete for another user or the user is anonymous.
func (s *AuthRequestService) CompleteAuthRequest(ctx context.Context, id, userID string, authTime time.Time) error {
	rid, ok := parseID(id)
	if !ok {
		return errAuthRequestNotFound()
	}
	uid, ok := parseID(userID)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	return s.db.write(ctx, func(tx *Tx) error {
		a, err := findAuthRequest(ctx, tx, rid[:], ms(tx.now))
		if err != nil {
			return err
		}
		u, err := findUserByID(ctx, tx, uid)
		if err != nil {
			return err
		}
		if u.Anonymous {
			return foyer.Errorf(foyer.EConflict, "An anonymous user cannot sign in to an application.")
		}
		if a.UserID != "" && a.UserID != u.ID {
			return foyer.Errorf(foyer.EConflict, "Someone else already signed in for this request.")
		}
		at := tx.now
		if !authTime.IsZero() {
			at = authTime
		}
		if _, err := tx.exec(ctx, `UPDATE auth_requests SET user_id = ?, auth_time = ? WHERE id = ?`, uid[:], ms(at), rid[:]); err != nil {
			return translate("complete authorization request", err)
		}
		return nil
	})
}

// SaveAuthCode attaches the hash of the live request's code. Returns
// ENotFound, EInvalid without a hash, and EConflict if the request is not
// complete, already has a code, or the hash is another request's.
func (s *AuthRequestService) SaveAuthCode(ctx context.Context, id string, codeHash []byte) error {
	rid, ok := parseID(id)
	if !ok {
		return errAuthRequestNotFound()
	}
	if len(codeHash) == 0 {
		return foyer.Errorf(foyer.EInvalid, "An authorization code needs a hash.")
	}
	return s.db.write(ctx, func(tx *Tx) error {
		var (
			userID, code []byte
		)
		err := tx.queryRow(ctx, `SELECT user_id, code_hash FROM auth_requests WHERE id = ? AND expires_at > ?`, rid[:], ms(tx.now)).Scan(&userID, &code)
		if errors.Is(err, sql.ErrNoRows) {
			return errAuthRequestNotFound()
		}
		if err != nil {
			return translate("find authorization request", err)
		}
		if userID == nil {
			return foyer.Errorf(foyer.EConflict, "No one has signed in for this request yet.")
		}
		if code != nil {
			return foyer.Errorf(foyer.EConflict, "The request already has a code.")
		}
		if _, err := tx.exec(ctx, `UPDATE auth_requests SET code_hash = ? WHERE id = ?`, codeHash, rid[:]); err != nil {
			return translate("save authorization code", err)
		}
		return nil
	})
}

// RedeemAuthCode returns the live request whose code hash is codeHash and
// deletes it in the same statement, so a code is redeemed at most once.
// Returns ENotFound.
func (s *AuthRequestService) RedeemAuthCode(ctx context.Context, codeHash []byte) (*foyer.AuthRequest, error) {
	if len(codeHash) == 0 {
		return nil, errAuthRequestNotFound()
	}
	var a *foyer.AuthRequest
	err := s.db.write(ctx, func(tx *Tx) error {
		var err error
		a, err = scanAuthRequest(tx.queryRow(ctx, `DELETE FROM auth_requests WHERE code_hash = ? AND expires_at > ?
RETURNING `+authRequestColumns, codeHash, ms(tx.now)))
		if errors.Is(err, sql.ErrNoRows) {
			return errAuthRequestNotFound()
		}
		return translate("redeem authorization code", err)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// DeleteAuthRequest deletes the request; deleting one that is gone is not
// an error.
func (s *AuthRequestService) DeleteAuthRequest(ctx context.Context, id string) error {
	rid, ok := parseID(id)
	if !ok {
		return nil
	}
	// The token endpoint deletes the request of every code it redeemed,
	// which RedeemAuthCode already did: a read says so without queueing
	// for the single writer. An id is never reused, so a request found
	// gone stays gone.
	var one int
	err := s.db.queryRow(ctx, `SELECT 1 FROM auth_requests WHERE id = ?`, rid[:]).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return translate("find authorization request", err)
	}
	return s.db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `DELETE FROM auth_requests WHERE id = ?`, rid[:])
		return translate("delete authorization request", err)
	})
}

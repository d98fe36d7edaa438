package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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

func scanAuthRequest(row pgx.Row) (*foyer.AuthRequest, error) {
	var (
		a        foyer.AuthRequest
		params   []byte
		userID   *string
		authTime *time.Time
	)
	if err := row.Scan(&a.ID, &a.AppID, &params, &userID, &authTime, &a.CreatedAt, &a.ExpiresAt); err != nil {
		return nil, err
	}
	if err := a.DecodeParams(params); err != nil {
		return nil, err
	}
	if userID != nil {
		a.UserID = *userID
	}
	if authTime != nil {
		a.AuthTime = *authTime
	}
	return &a, nil
}

func errAuthRequestNotFound() error {
	return foyer.Errorf(foyer.ENotFound, "Authorization request not found.")
}

// CreateAuthRequest stores a's request fields and ExpiresAt, setting ID
// and CreatedAt; a is not signed in for yet, whatever its UserID says.
// Returns ENotFound if the app does not exist (its foreign key refuses
// the row), EInvalid if a holds text that cannot be stored.
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
	now := s.db.now()
	id := s.db.newID(now)
	expires := msTime(a.ExpiresAt)
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO auth_requests (id, app_id, params, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		id, aid, params, now, expires); err != nil {
		if e, ok := errors.AsType[*pgconn.PgError](err); ok && e.Code == codeForeignKeyViolation {
			return errAppNotFound()
		}
		return translate("create authorization request", err)
	}
	a.ID, a.AppID, a.CreatedAt, a.ExpiresAt = id.String(), aid.String(), now, expires
	a.UserID, a.AuthTime = "", time.Time{}
	return nil
}

// FindAuthRequest returns a live request. Returns ENotFound.
func (s *AuthRequestService) FindAuthRequest(ctx context.Context, id string) (*foyer.AuthRequest, error) {
	rid, ok := parseID(id)
	if !ok {
		return nil, errAuthRequestNotFound()
	}
	a, err := scanAuthRequest(s.db.pool.QueryRow(ctx, `SELECT `+authRequestColumns+` FROM auth_requests WHERE id = $1 AND expires_at > $2`,
		rid, s.db.now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errAuthRequestNotFound()
	}
	if err != nil {
		return nil, translate("find authorization request", err)
	}
	return a, nil
}

// CompleteAuthRequest records that the registered user userID signed in
// for the live request id at authTime (now when zero). Completing it
// again for the same user only moves authTime. One statement holds the
// user's row FOR SHARE while it writes, so a concurrent deletion of the
// user either waits and then deletes the completed request with the
// user, or deletes the user first and the request stays incomplete; it
// reads the request and the user as well, to tell why it did not write.
// Returns ENotFound if the request or the user does not exist, and
// EConflict if the request is already complete for another user or the
// user is anonymous.
func (s *AuthRequestService) CompleteAuthRequest(ctx context.Context, id, userID string, authTime time.Time) error {
	rid, ok := parseID(id)
	if !ok {
		return errAuthRequestNotFound()
	}
	uid, ok := parseID(userID)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	now := s.db.now()
	at := now
	if !authTime.IsZero() {
		at = msTime(authTime)
	}
	var (
		found, applied bool
		anonymous      *bool
	)
	err := s.db.pool.QueryRow(ctx, `WITH u AS (
	SELECT id, anonymous FROM users WHERE id = $2 FOR SHARE
), c AS (
	UPDATE auth_requests r SET user_id = u.id, auth_time = $3
	FROM u
	WHERE r.id = $1 AND r.expires_at > $4 AND NOT u.anonymous AND (r.user_id IS NULL OR r.user_id = u.id)
	RETURNING r.id
)
SELECT EXISTS (SELECT 1 FROM auth_requests WHERE id = $1 AND expires_at > $4), (SELECT anonymous FROM u), EXISTS (SELECT 1 FROM c)`,
		rid, uid, at, now).Scan(&found, &anonymous, &applied)
	if err != nil {
		return translate("complete authorization request", err)
	}
	switch {
	case applied:
		return nil
	case !found:
		return errAuthRequestNotFound()
	case anonymous == nil:
		return foyer.Errorf(foyer.ENotFound, "User not found.")
	case *anonymous:
		return foyer.Errorf(foyer.EConflict, "An anonymous user cannot sign in to an application.")
	}
	// The request is complete for someone else, now or by the time the
	// update looked at it.
	return foyer.Errorf(foyer.EConflict, "Someone else already signed in for this request.")
}

// SaveAuthCode attaches the hash of the live request's code, in one
// statement that reads the request as well, to tell why it did not
// write. Returns ENotFound, EInvalid without a hash, and EConflict if the
// request is not complete, already has a code, or the hash is another
// request's.
func (s *AuthRequestService) SaveAuthCode(ctx context.Context, id string, codeHash []byte) error {
	rid, ok := parseID(id)
	if !ok {
		return errAuthRequestNotFound()
	}
	if len(codeHash) == 0 {
		return foyer.Errorf(foyer.EInvalid, "An authorization code needs a hash.")
	}
	var (
		done, coded *bool
		applied     bool
	)
	err := s.db.pool.QueryRow(ctx, `WITH r AS (
	SELECT user_id IS NOT NULL AS done, code_hash IS NOT NULL AS coded FROM auth_requests WHERE id = $1 AND expires_at > $3
), c AS (
	UPDATE auth_requests SET code_hash = $2
	WHERE id = $1 AND expires_at > $3 AND user_id IS NOT NULL AND code_hash IS NULL
	RETURNING id
)
SELECT (SELECT done FROM r), (SELECT coded FROM r), EXISTS (SELECT 1 FROM c)`, rid, codeHash, s.db.now()).Scan(&done, &coded, &applied)
	if err != nil {
		return translate("save authorization code", err)
	}
	switch {
	case applied:
		return nil
	case done == nil:
		return errAuthRequestNotFound()
	case !*done:
		return foyer.Errorf(foyer.EConflict, "No one has signed in for this request yet.")
	}
	return foyer.Errorf(foyer.EConflict, "The request already has a code.")
}

// RedeemAuthCode returns the live request whose code hash is codeHash and
// deletes it in the same statement, so a code is redeemed at most once.
// Returns ENotFound.
func (s *AuthRequestService) RedeemAuthCode(ctx context.Context, codeHash []byte) (*foyer.AuthRequest, error) {
	if len(codeHash) == 0 {
		return nil, errAuthRequestNotFound()
	}
	a, err := scanAuthRequest(s.db.pool.QueryRow(ctx, `DELETE FROM auth_requests WHERE code_hash = $1 AND expires_at > $2
RETURNING `+authRequestColumns, codeHash, s.db.now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errAuthRequestNotFound()
	}
	if err != nil {
		return nil, translate("redeem authorization code", err)
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
	_, err := s.db.pool.Exec(ctx, `DELETE FROM auth_requests WHERE id = $1`, rid)
	return translate("delete authorization request", err)
}

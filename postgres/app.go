package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
)

var _ foyer.AppService = (*AppService)(nil)

// AppService implements foyer.AppService.
type AppService struct {
	db *DB
}

// NewAppService returns an AppService on db.
func NewAppService(db *DB) *AppService { return &AppService{db: db} }

const appColumns = `id, name, type, secret_hash, redirect_uris, post_logout_redirect_uris, created_at`

func scanApp(row pgx.Row) (*foyer.App, error) {
	var (
		a   foyer.App
		typ string
	)
	if err := row.Scan(&a.ID, &a.Name, &typ, &a.SecretHash, &a.RedirectURIs, &a.PostLogoutRedirectURIs, &a.CreatedAt); err != nil {
		return nil, err
	}
	a.Type = foyer.AppType(typ)
	normalizeApp(&a)
	return &a, nil
}

// normalizeApp gives a the form in which it is stored: its name trimmed,
// its lists never nil, and no secret hash at all rather than an empty one.
func normalizeApp(a *foyer.App) {
	a.Name = strings.TrimSpace(a.Name)
	if a.RedirectURIs == nil {
		a.RedirectURIs = []string{}
	}
	if a.PostLogoutRedirectURIs == nil {
		a.PostLogoutRedirectURIs = []string{}
	}
	if len(a.SecretHash) == 0 {
		a.SecretHash = nil
	}
}

func errAppNotFound() error {
	return foyer.Errorf(foyer.ENotFound, "Application not found.")
}

// CreateApp validates and stores a, setting ID and CreatedAt, with its
// name trimmed. Returns EInvalid.
func (s *AppService) CreateApp(ctx context.Context, a *foyer.App) error {
	if err := a.Validate(); err != nil {
		return err
	}
	stored := *a
	normalizeApp(&stored)
	now := s.db.now()
	id := s.db.newID(now)
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO apps (`+appColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		id, stored.Name, string(stored.Type), stored.SecretHash, stored.RedirectURIs, stored.PostLogoutRedirectURIs, now); err != nil {
		return translate("create app", err)
	}
	stored.ID, stored.CreatedAt = id.String(), now
	*a = stored
	return nil
}

// FindApp returns the app with id. Returns ENotFound.
func (s *AppService) FindApp(ctx context.Context, id string) (*foyer.App, error) {
	aid, ok := parseID(id)
	if !ok {
		return nil, errAppNotFound()
	}
	a, err := scanApp(s.db.pool.QueryRow(ctx, `SELECT `+appColumns+` FROM apps WHERE id = $1`, aid))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errAppNotFound()
	}
	if err != nil {
		return nil, translate("find app", err)
	}
	return a, nil
}

// FindApps returns every app, oldest first.
func (s *AppService) FindApps(ctx context.Context) ([]*foyer.App, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT `+appColumns+` FROM apps ORDER BY id`)
	if err != nil {
		return nil, translate("find apps", err)
	}
	defer rows.Close()
	out := []*foyer.App{}
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, translate("find apps", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("find apps", err)
	}
	return out, nil
}

// UpdateApp replaces the name, redirect URIs and post-logout URIs of the
// stored app a.ID, with its name trimmed, and sets a to what is stored.
// The type and secret hash in a are ignored: one UPDATE writes only the
// columns an update may change and returns the type, secret hash and
// creation time as stored, so an update racing SetAppSecret never writes
// an old secret back. Returns ENotFound, EInvalid.
func (s *AppService) UpdateApp(ctx context.Context, a *foyer.App) error {
	if err := a.ValidateUpdate(); err != nil {
		return err
	}
	aid, ok := parseID(a.ID)
	if !ok {
		return errAppNotFound()
	}
	next := *a
	normalizeApp(&next)
	var typ string
	err := s.db.pool.QueryRow(ctx, `UPDATE apps SET name = $2, redirect_uris = $3, post_logout_redirect_uris = $4 WHERE id = $1
RETURNING type, secret_hash, created_at`, aid, next.Name, next.RedirectURIs, next.PostLogoutRedirectURIs).Scan(&typ, &next.SecretHash, &next.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return errAppNotFound()
	}
	if err != nil {
		return translate("update app", err)
	}
	next.ID, next.Type = aid.String(), foyer.AppType(typ)
	normalizeApp(&next)
	*a = next
	return nil
}

// SetAppSecret replaces the secret hash of the confidential app id, in
// one statement: the UPDATE changes only a confidential app, and the same
// statement reads the app's type to tell a public app (EConflict) from a
// missing one (ENotFound). Returns EInvalid for an empty hash.
func (s *AppService) SetAppSecret(ctx context.Context, id string, hash []byte) error {
	aid, ok := parseID(id)
	if !ok {
		return errAppNotFound()
	}
	if len(hash) == 0 {
		return errAppSecretEmpty()
	}
	var (
		typ     *string
		applied bool
	)
	err := s.db.pool.QueryRow(ctx, `WITH u AS (
	UPDATE apps SET secret_hash = $2 WHERE id = $1 AND type = 'confidential'
	RETURNING id
)
SELECT (SELECT type FROM apps WHERE id = $1), EXISTS (SELECT 1 FROM u)`, aid, hash).Scan(&typ, &applied)
	if err != nil {
		return translate("set app secret", err)
	}
	switch {
	case applied:
		return nil
	case typ != nil && foyer.AppType(*typ) == foyer.AppPublic:
		return errAppPublic()
	}
	// Missing, or deleted while the statement ran.
	return errAppNotFound()
}

func errAppSecretEmpty() error {
	return foyer.Errorf(foyer.EInvalid, "A confidential application needs a secret.")
}

func errAppPublic() error {
	return foyer.Errorf(foyer.EConflict, "A public application has no secret.")
}

// DeleteApp deletes the app with id and, through the foreign keys, its
// authorization requests and every session signed in through it, in one
// statement. Returns ENotFound.
func (s *AppService) DeleteApp(ctx context.Context, id string) error {
	aid, ok := parseID(id)
	if !ok {
		return errAppNotFound()
	}
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM apps WHERE id = $1`, aid)
	if err != nil {
		return translate("delete app", err)
	}
	return expectOne(tag, "Application not found.")
}

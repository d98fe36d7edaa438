package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

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

// UpdateApp replaces the name, redirect URIs, post-logout URIs and secret
// hash of the stored app a.ID, and sets a to what is stored. The type and
// creation time stay as stored whatever a says: a public app cannot be
// given a secret, nor a confidential one lose its own. One statement
// updates the app if its stored type is the one the secret hash calls
// for, and reads that type to tell why it did not. Returns ENotFound,
// EInvalid.
func (s *AppService) UpdateApp(ctx context.Context, a *foyer.App) error {
	next, err := appUpdate(a)
	if err != nil {
		return err
	}
	aid, ok := parseID(a.ID)
	if !ok {
		return errAppNotFound()
	}
	var (
		typ     *string
		created *time.Time
	)
	err = s.db.pool.QueryRow(ctx, `WITH u AS (
	UPDATE apps SET name = $2, secret_hash = $3, redirect_uris = $4, post_logout_redirect_uris = $5
	WHERE id = $1 AND type = $6
	RETURNING created_at
)
SELECT (SELECT type FROM apps WHERE id = $1), (SELECT created_at FROM u)`,
		aid, next.Name, next.SecretHash, next.RedirectURIs, next.PostLogoutRedirectURIs, string(next.Type)).Scan(&typ, &created)
	if err != nil {
		return translate("update app", err)
	}
	switch {
	case typ == nil:
		return errAppNotFound()
	case created == nil:
		return errAppType(next, foyer.AppType(*typ))
	}
	next.ID, next.CreatedAt = aid.String(), *created
	*a = *next
	return nil
}

// appUpdate returns the app that UpdateApp stores for a, in its stored
// form, with the type that its secret hash calls for, which must be the
// stored type. Returns EInvalid.
func appUpdate(a *foyer.App) (*foyer.App, error) {
	next := *a
	next.Type = foyer.AppPublic
	if len(next.SecretHash) > 0 {
		next.Type = foyer.AppConfidential
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	normalizeApp(&next)
	return &next, nil
}

// errAppType is the EInvalid that validating the update a with the
// stored type gives. If a is valid with that type, the app was deleted
// while it was updated.
func errAppType(a *foyer.App, stored foyer.AppType) error {
	cp := *a
	cp.Type = stored
	if err := cp.Validate(); err != nil {
		return err
	}
	return errAppNotFound()
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

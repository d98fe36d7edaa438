package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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

func scanApp(row interface{ Scan(...any) error }) (*foyer.App, error) {
	var (
		a              foyer.App
		id             []byte
		typ            string
		uris, postURIs string
		created        int64
	)
	if err := row.Scan(&id, &a.Name, &typ, &a.SecretHash, &uris, &postURIs, &created); err != nil {
		return nil, err
	}
	a.ID, a.Type, a.CreatedAt = idString(id), foyer.AppType(typ), msTime(created)
	if err := json.Unmarshal([]byte(uris), &a.RedirectURIs); err != nil {
		return nil, fmt.Errorf("app redirect URIs: %w", err)
	}
	if err := json.Unmarshal([]byte(postURIs), &a.PostLogoutRedirectURIs); err != nil {
		return nil, fmt.Errorf("app post-logout redirect URIs: %w", err)
	}
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

// appURIs encodes the URI lists of a as the JSON arrays they are stored as.
func appURIs(a *foyer.App) (uris, postURIs string, err error) {
	b, err := json.Marshal(a.RedirectURIs)
	if err != nil {
		return "", "", err
	}
	p, err := json.Marshal(a.PostLogoutRedirectURIs)
	if err != nil {
		return "", "", err
	}
	return string(b), string(p), nil
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
	uris, postURIs, err := appURIs(&stored)
	if err != nil {
		return fmt.Errorf("create app: %w", err)
	}
	err = s.db.write(ctx, func(tx *Tx) error {
		id := s.db.newID(tx.now)
		if _, err := tx.exec(ctx, `INSERT INTO apps (`+appColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id[:], stored.Name, string(stored.Type), stored.SecretHash, uris, postURIs, ms(tx.now)); err != nil {
			return translate("create app", err)
		}
		stored.ID, stored.CreatedAt = id.String(), tx.now
		return nil
	})
	if err != nil {
		return err
	}
	*a = stored
	return nil
}

// FindApp returns the app with id. Returns ENotFound.
func (s *AppService) FindApp(ctx context.Context, id string) (*foyer.App, error) {
	aid, ok := parseID(id)
	if !ok {
		return nil, errAppNotFound()
	}
	a, err := scanApp(s.db.queryRow(ctx, `SELECT `+appColumns+` FROM apps WHERE id = ?`, aid[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errAppNotFound()
	}
	if err != nil {
		return nil, translate("find app", err)
	}
	return a, nil
}

// FindApps returns every app, oldest first.
func (s *AppService) FindApps(ctx context.Context) ([]*foyer.App, error) {
	rows, err := s.db.query(ctx, `SELECT `+appColumns+` FROM apps ORDER BY id`)
	if err != nil {
		return nil, err
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
	uris, postURIs, err := appURIs(&next)
	if err != nil {
		return fmt.Errorf("update app: %w", err)
	}
	var (
		typ     string
		hash    []byte
		created int64
	)
	err = s.db.write(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `UPDATE apps SET name = ?, redirect_uris = ?, post_logout_redirect_uris = ? WHERE id = ?
RETURNING type, secret_hash, created_at`, next.Name, uris, postURIs, aid[:]).Scan(&typ, &hash, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return errAppNotFound()
		}
		if err != nil {
			return translate("update app", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	next.ID, next.Type, next.SecretHash, next.CreatedAt = aid.String(), foyer.AppType(typ), hash, msTime(created)
	normalizeApp(&next)
	*a = next
	return nil
}

// SetAppSecret replaces the secret hash of the confidential app id, in
// one write transaction: the UPDATE changes only a confidential app, and
// if it changed nothing the app's type tells a public app (EConflict)
// from a missing one (ENotFound). Returns EInvalid for an empty hash.
func (s *AppService) SetAppSecret(ctx context.Context, id string, hash []byte) error {
	aid, ok := parseID(id)
	if !ok {
		return errAppNotFound()
	}
	if len(hash) == 0 {
		return errAppSecretEmpty()
	}
	return s.db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE apps SET secret_hash = ? WHERE id = ? AND type = 'confidential'`, hash, aid[:])
		if err != nil {
			return translate("set app secret", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return translate("set app secret", err)
		}
		if n == 1 {
			return nil
		}
		var typ string
		err = tx.queryRow(ctx, `SELECT type FROM apps WHERE id = ?`, aid[:]).Scan(&typ)
		if errors.Is(err, sql.ErrNoRows) {
			return errAppNotFound()
		}
		if err != nil {
			return translate("set app secret", err)
		}
		return errAppPublic()
	})
}

func errAppSecretEmpty() error {
	return foyer.Errorf(foyer.EInvalid, "A confidential application needs a secret.")
}

func errAppPublic() error {
	return foyer.Errorf(foyer.EConflict, "A public application has no secret.")
}

// DeleteApp deletes the app with id and, through the foreign keys, its
// authorization requests and every session signed in through it, in one
// transaction. Returns ENotFound.
func (s *AppService) DeleteApp(ctx context.Context, id string) error {
	aid, ok := parseID(id)
	if !ok {
		return errAppNotFound()
	}
	return s.db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM apps WHERE id = ?`, aid[:])
		if err != nil {
			return translate("delete app", err)
		}
		return expectOne(res, "Application not found.")
	})
}

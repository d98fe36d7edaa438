package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/foyerhq/foyer"
)

var _ foyer.ExportService = (*ExportService)(nil)

// ExportService implements foyer.ExportService.
type ExportService struct {
	db *DB
}

// NewExportService returns an ExportService on db.
func NewExportService(db *DB) *ExportService { return &ExportService{db: db} }

// exportedIDs is the array of the user whose id is $1 and of the anonymous
// accounts merged into it: their events hold data that became the user's.
const exportedIDs = `ARRAY(SELECT $1::uuid UNION ALL SELECT from_id FROM aliases WHERE into_id = $1)`

// ExportUser returns everything stored about the user with id, read in
// one repeatable-read transaction, so the parts agree with each other: the
// user, all its stored sessions (without refresh token hashes), its
// pending conversion (address and times, without the token hash), its
// events and those of the anonymous accounts merged into it, the
// deliveries of those events, the aliases pointing to it, and the mail
// sent to its verified address (without link tokens). Lists are oldest
// first. Every query goes in one batch, with the BEGIN: two round trips
// with the COMMIT.
//
// Mail to a pending address is left out: a conversion request to an
// address that has an account sends its notice to the owner instead, so
// showing the link mail of a free address would tell the two apart
// (DESIGN §2.4). Returns ENotFound.
func (s *ExportService) ExportUser(ctx context.Context, id string) (*foyer.Export, error) {
	uid, ok := parseID(id)
	if !ok {
		return nil, foyer.Errorf(foyer.ENotFound, "User not found.")
	}
	x := &foyer.Export{ExportedAt: s.db.now()}
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	b.Queue(`SELECT `+userColumns+` FROM `+userFrom+` WHERE u.id = $1`, uid)
	b.Queue(`SELECT `+sessionColumns+` FROM sessions s WHERE s.user_id = $1 ORDER BY s.id`, uid)
	b.Queue(`SELECT email, created_at, expires_at FROM conversions WHERE user_id = $1`, uid)
	b.Queue(`SELECT id, type, user_id, created_at, data FROM events WHERE user_id = ANY (`+exportedIDs+`) ORDER BY id`, uid)
	b.Queue(`SELECT `+deliveryColumns+` FROM deliveries d WHERE d.user_id = ANY (`+exportedIDs+`) ORDER BY d.id`, uid)
	b.Queue(`SELECT from_id, into_id, created_at FROM aliases WHERE into_id = $1 ORDER BY created_at, from_id`, uid)
	b.Queue(`SELECT `+mailColumns+` FROM mail WHERE to_address = (SELECT email FROM users WHERE id = $1) ORDER BY id`, uid)
	br := s.db.pool.SendBatch(ctx, b)
	tx := br.Tx()
	defer tx.Rollback(context.WithoutCancel(ctx))
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		var err error
		if x.User, err = scanUser(br.QueryRow()); errors.Is(err, pgx.ErrNoRows) {
			return foyer.Errorf(foyer.ENotFound, "User not found.")
		} else if err != nil {
			return err
		}
		if x.Sessions, err = collect(br, func(row pgx.Row) (*foyer.Session, error) {
			sess, err := scanSession(row)
			if err != nil {
				return nil, err
			}
			sess.RefreshHash = nil
			return sess, nil
		}); err != nil {
			return err
		}
		if x.Conversions, err = collect(br, func(row pgx.Row) (foyer.ExportedConversion, error) {
			var c foyer.ExportedConversion
			err := row.Scan(&c.Email, &c.CreatedAt, &c.ExpiresAt)
			return c, err
		}); err != nil {
			return err
		}
		if x.Events, err = collect(br, func(row pgx.Row) (*foyer.Event, error) {
			var (
				e      foyer.Event
				userID *string
				data   []byte
			)
			if err := row.Scan(&e.ID, &e.Type, &userID, &e.CreatedAt, &data); err != nil {
				return nil, err
			}
			if userID != nil {
				e.UserID = *userID
			}
			e.Data = json.RawMessage(data)
			return &e, nil
		}); err != nil {
			return err
		}
		if x.Deliveries, err = collect(br, scanDelivery); err != nil {
			return err
		}
		if x.Aliases, err = collect(br, func(row pgx.Row) (*foyer.Alias, error) {
			var a foyer.Alias
			err := row.Scan(&a.From, &a.Into, &a.CreatedAt)
			return &a, err
		}); err != nil {
			return err
		}
		if x.Mail, err = collect(br, func(row pgx.Row) (*foyer.Mail, error) {
			m, err := scanMail(row)
			if err != nil {
				return nil, err
			}
			return exportedMail(m, uid.String()), nil
		}); err != nil {
			return err
		}
		return br.Close()
	}()
	if err != nil {
		br.Close()
		return nil, translate("export user", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, translate("export user", err)
	}
	return x, nil
}

// collect reads the rows of the next query of a batch with scan, into a
// list that is empty rather than nil when there are none.
func collect[T any](br pgx.BatchResults, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// exportedMail strips m of what the export must not show: the link token
// of its data, and the id of another account it was about.
func exportedMail(m *foyer.Mail, userID string) *foyer.Mail {
	var d foyer.MailData
	if err := json.Unmarshal(m.Data, &d); err != nil {
		d = foyer.MailData{}
	}
	d.Token = ""
	m.Data, _ = json.Marshal(d)
	if m.UserID != userID {
		m.UserID = ""
	}
	return m
}

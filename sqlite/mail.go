package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/foyerhq/foyer"
)

var _ foyer.MailService = (*MailService)(nil)

// MailService implements foyer.MailService.
type MailService struct {
	db *DB
}

// NewMailService returns a MailService on db.
func NewMailService(db *DB) *MailService { return &MailService{db: db} }

const mailColumns = `id, kind, to_address, user_id, data, created_at, attempts, next_attempt_at, sent_at, last_error`

// queueMail queues one message in tx, due at once. userID, the account
// the message is about, may be nil.
func queueMail(ctx context.Context, tx *Tx, kind, to string, userID []byte, data json.RawMessage) error {
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	id := tx.db.newID(tx.now)
	if _, err := tx.exec(ctx, `INSERT INTO mail (id, kind, to_address, user_id, data, created_at, next_attempt_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`, id[:], kind, to, userID, string(data), ms(tx.now), ms(tx.now)); err != nil {
		return translate("queue mail", err)
	}
	return nil
}

// deleteQueuedMail deletes the unsent messages of the given kinds about a
// user, whose links a newer request has killed.
func deleteQueuedMail(ctx context.Context, tx *Tx, userID []byte, kinds ...string) error {
	q := `DELETE FROM mail WHERE user_id = ? AND sent_at IS NULL AND kind IN (?` + strings.Repeat(", ?", len(kinds)-1) + `)`
	args := []any{userID}
	for _, k := range kinds {
		args = append(args, k)
	}
	if _, err := tx.exec(ctx, q, args...); err != nil {
		return translate("delete queued mail", err)
	}
	return nil
}

func scanMail(row interface{ Scan(...any) error }) (*foyer.Mail, error) {
	var (
		m             foyer.Mail
		id, userID    []byte
		data          string
		created, next int64
		sent          sql.NullInt64
		lastError     sql.NullString
	)
	if err := row.Scan(&id, &m.Kind, &m.To, &userID, &data, &created, &m.Attempts, &next, &sent, &lastError); err != nil {
		return nil, err
	}
	m.ID = idString(id)
	if userID != nil {
		m.UserID = idString(userID)
	}
	m.Data = json.RawMessage(data)
	m.CreatedAt = msTime(created)
	m.NextAttemptAt = msTime(next)
	m.SentAt = msTimePtr(sent)
	m.LastError = lastError.String
	return &m, nil
}

// ClaimMail returns up to limit unsent messages due at now, oldest due
// first, after moving their NextAttemptAt to now+lease and counting the
// attempt. SQLite has one writer, so two claims never overlap.
func (s *MailService) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*foyer.Mail, error) {
	if limit <= 0 {
		return []*foyer.Mail{}, nil
	}
	claimed := []*foyer.Mail{}
	err := s.db.write(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `UPDATE mail SET attempts = attempts + 1, next_attempt_at = ?
WHERE id IN (SELECT id FROM mail WHERE sent_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)
RETURNING `+mailColumns, ms(now.Add(lease)), ms(now), limit)
		if err != nil {
			return translate("claim mail", err)
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMail(rows)
			if err != nil {
				return translate("claim mail", err)
			}
			claimed = append(claimed, m)
		}
		if err := rows.Err(); err != nil {
			return translate("claim mail", err)
		}
		return translate("claim mail", rows.Close())
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(claimed, func(a, b *foyer.Mail) int { return strings.Compare(a.ID, b.ID) })
	return claimed, nil
}

// MarkMailSent records that the message was delivered. Returns ENotFound.
func (s *MailService) MarkMailSent(ctx context.Context, id string) error {
	mid, ok := parseID(id)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "Mail not found.")
	}
	return s.db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE mail SET sent_at = ? WHERE id = ?`, ms(tx.now), mid[:])
		if err != nil {
			return translate("mark mail sent", err)
		}
		return expectOne(res, "Mail not found.")
	})
}

// MarkMailFailed records a failed attempt: the reason, as clean text (see
// foyer.CleanText), and when to retry. Returns ENotFound.
func (s *MailService) MarkMailFailed(ctx context.Context, id string, next time.Time, reason string) error {
	mid, ok := parseID(id)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "Mail not found.")
	}
	return s.db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE mail SET next_attempt_at = ?, last_error = ? WHERE id = ?`, ms(next), foyer.CleanText(reason), mid[:])
		if err != nil {
			return translate("mark mail failed", err)
		}
		return expectOne(res, "Mail not found.")
	})
}

// FindMail returns up to limit of the newest messages, newest first,
// optionally only those to one address. A limit of zero or less, or above
// foyer.MaxPageSize, means foyer.MaxPageSize.
func (s *MailService) FindMail(ctx context.Context, to *string, limit int) ([]*foyer.Mail, error) {
	if limit <= 0 || limit > foyer.MaxPageSize {
		limit = foyer.MaxPageSize
	}
	var (
		rows *sql.Rows
		err  error
	)
	if to != nil {
		if err := checkText(*to); err != nil {
			return nil, err
		}
		rows, err = s.db.query(ctx, `SELECT `+mailColumns+` FROM mail WHERE to_address = ? ORDER BY id DESC LIMIT ?`, *to, limit)
	} else {
		rows, err = s.db.query(ctx, `SELECT `+mailColumns+` FROM mail ORDER BY id DESC LIMIT ?`, limit)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*foyer.Mail{}
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, translate("find mail", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("find mail", err)
	}
	return out, nil
}

// expectOne returns ENotFound with msg unless res changed exactly one row.
func expectOne(res sql.Result, msg string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return translate("rows affected", err)
	}
	if n == 0 {
		return foyer.Errorf(foyer.ENotFound, "%s", msg)
	}
	return nil
}

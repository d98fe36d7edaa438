package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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

// deleteQueuedMail is a DELETE, for a data-modifying CTE, of the unsent
// messages of the given kinds about the user that the CTE u returns, whose
// links a newer request has killed. The kinds are package constants, so
// they are written into the SQL as literals.
func deleteQueuedMail(kinds ...string) string {
	return `DELETE FROM mail WHERE user_id = ANY (ARRAY(SELECT id FROM u)) AND sent_at IS NULL
		AND kind IN ('` + strings.Join(kinds, "', '") + `')`
}

func scanMail(row pgx.Row) (*foyer.Mail, error) {
	var (
		m                 foyer.Mail
		userID, lastError *string
		data              []byte
	)
	if err := row.Scan(&m.ID, &m.Kind, &m.To, &userID, &data, &m.CreatedAt, &m.Attempts, &m.NextAttemptAt, &m.SentAt, &lastError); err != nil {
		return nil, err
	}
	if userID != nil {
		m.UserID = *userID
	}
	if lastError != nil {
		m.LastError = *lastError
	}
	m.Data = json.RawMessage(data)
	return &m, nil
}

// ClaimMail returns up to limit unsent messages due at now, oldest due
// first, after moving their NextAttemptAt to now+lease and counting the
// attempt, in one statement. The rows are taken with FOR UPDATE SKIP
// LOCKED, and a row another claimer updated meanwhile is re-checked
// against "due at now", so concurrent claimers never get the same message.
func (s *MailService) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*foyer.Mail, error) {
	if limit <= 0 {
		return []*foyer.Mail{}, nil
	}
	rows, err := s.db.pool.Query(ctx, `WITH due AS (
	SELECT id FROM mail WHERE sent_at IS NULL AND next_attempt_at <= $2
	ORDER BY next_attempt_at, id LIMIT $3
	FOR UPDATE SKIP LOCKED
)
UPDATE mail SET attempts = attempts + 1, next_attempt_at = $1
FROM due WHERE mail.id = due.id
RETURNING mail.id, mail.kind, mail.to_address, mail.user_id, mail.data, mail.created_at, mail.attempts,
	mail.next_attempt_at, mail.sent_at, mail.last_error`, msTime(now.Add(lease)), msTime(now), limit)
	if err != nil {
		return nil, translate("claim mail", err)
	}
	claimed, err := collectMail(rows, "claim mail")
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
	tag, err := s.db.pool.Exec(ctx, `UPDATE mail SET sent_at = $2 WHERE id = $1`, mid, s.db.now())
	if err != nil {
		return translate("mark mail sent", err)
	}
	return expectOne(tag, "Mail not found.")
}

// MarkMailFailed records a failed attempt: the reason, as clean text (see
// foyer.CleanText), and when to retry. Returns ENotFound.
func (s *MailService) MarkMailFailed(ctx context.Context, id string, next time.Time, reason string) error {
	mid, ok := parseID(id)
	if !ok {
		return foyer.Errorf(foyer.ENotFound, "Mail not found.")
	}
	tag, err := s.db.pool.Exec(ctx, `UPDATE mail SET next_attempt_at = $2, last_error = $3 WHERE id = $1`, mid, msTime(next), foyer.CleanText(reason))
	if err != nil {
		return translate("mark mail failed", err)
	}
	return expectOne(tag, "Mail not found.")
}

// FindMail returns up to limit of the newest messages, newest first,
// optionally only those to one address. A limit of zero or less, or above
// foyer.MaxPageSize, means foyer.MaxPageSize.
func (s *MailService) FindMail(ctx context.Context, to *string, limit int) ([]*foyer.Mail, error) {
	if limit <= 0 || limit > foyer.MaxPageSize {
		limit = foyer.MaxPageSize
	}
	var (
		rows pgx.Rows
		err  error
	)
	if to != nil {
		rows, err = s.db.pool.Query(ctx, `SELECT `+mailColumns+` FROM mail WHERE to_address = $1 ORDER BY id DESC LIMIT $2`, *to, limit)
	} else {
		rows, err = s.db.pool.Query(ctx, `SELECT `+mailColumns+` FROM mail ORDER BY id DESC LIMIT $1`, limit)
	}
	if err != nil {
		return nil, translate("find mail", err)
	}
	return collectMail(rows, "find mail")
}

// collectMail reads every row of mailColumns and closes rows.
func collectMail(rows pgx.Rows, op string) ([]*foyer.Mail, error) {
	defer rows.Close()
	out := []*foyer.Mail{}
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, translate(op, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(op, err)
	}
	return out, nil
}

// expectOne returns ENotFound with msg unless the statement changed a row.
func expectOne(tag pgconn.CommandTag, msg string) error {
	if tag.RowsAffected() == 0 {
		return foyer.Errorf(foyer.ENotFound, "%s", msg)
	}
	return nil
}

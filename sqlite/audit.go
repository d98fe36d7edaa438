package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/foyerhq/foyer"
)

var _ foyer.AuditService = (*AuditService)(nil)

// AuditService implements foyer.AuditService.
type AuditService struct {
	db *DB
}

// NewAuditService returns an AuditService on db.
func NewAuditService(db *DB) *AuditService { return &AuditService{db: db} }

const auditColumns = `id, actor, action, target, status, ip, details, created_at`

func scanAuditEntry(row interface{ Scan(...any) error }) (*foyer.AuditEntry, error) {
	var (
		e          foyer.AuditEntry
		id         []byte
		target, ip sql.NullString
		details    []byte
		created    int64
	)
	if err := row.Scan(&id, &e.Actor, &e.Action, &target, &e.Status, &ip, &details, &created); err != nil {
		return nil, err
	}
	e.ID = idString(id)
	e.Target, e.IP = target.String, ip.String
	if len(details) > 0 {
		e.Details = json.RawMessage(bytes.Clone(details))
	}
	e.CreatedAt = msTime(created)
	return &e, nil
}

// checkDetails returns the details of an audit entry compacted, nil for
// none, or EInvalid if they are not JSON.
func checkDetails(d json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(d)) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, d); err != nil {
		return nil, foyer.Errorf(foyer.EInvalid, "The audit details are not JSON.")
	}
	return buf.Bytes(), nil
}

// CreateAuditEntry appends e, setting ID and CreatedAt. Returns EInvalid
// without an actor or an action, or with details that are not JSON.
func (s *AuditService) CreateAuditEntry(ctx context.Context, e *foyer.AuditEntry) error {
	if e.Actor == "" || e.Action == "" {
		return foyer.Errorf(foyer.EInvalid, "An audit entry needs an actor and an action.")
	}
	if err := checkText(e.Actor, e.Action, e.Target, e.IP); err != nil {
		return err
	}
	details, err := checkDetails(e.Details)
	if err != nil {
		return err
	}
	var stored any
	if details != nil {
		stored = string(details)
	}
	var (
		id  uuid.UUID
		now time.Time
	)
	err = s.db.write(ctx, func(tx *Tx) error {
		id, now = s.db.newID(tx.now), tx.now
		if _, err := tx.exec(ctx, `INSERT INTO audit_log (id, actor, action, target, status, ip, details, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id[:], e.Actor, e.Action, nullString(e.Target), e.Status, nullString(e.IP), stored, ms(tx.now)); err != nil {
			return translate("create audit entry", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.ID, e.CreatedAt, e.Details = id.String(), now, details
	return nil
}

// FindAuditEntries returns up to filter.Limit entries matching filter,
// newest first. A Limit of zero or less, or above foyer.MaxPageSize, means
// foyer.MaxPageSize. Since is inclusive and a range of ids, as an entry's
// UUIDv7 starts with its creation millisecond. Returns EInvalid if After
// is not an entry id.
func (s *AuditService) FindAuditEntries(ctx context.Context, f foyer.AuditFilter) ([]*foyer.AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	if f.Actor != nil {
		if err := checkText(*f.Actor); err != nil {
			return nil, err
		}
		where, args = append(where, "actor = ?"), append(args, *f.Actor)
	}
	if f.Target != nil {
		if err := checkText(*f.Target); err != nil {
			return nil, err
		}
		where, args = append(where, "target = ?"), append(args, *f.Target)
	}
	if f.Since != nil {
		where, args = append(where, "id >= ?"), append(args, idFloor(ceilMs(*f.Since)))
	}
	if f.After != "" {
		after, ok := parseID(f.After)
		if !ok {
			return nil, foyer.Errorf(foyer.EInvalid, "The cursor is not valid.")
		}
		where, args = append(where, "id < ?"), append(args, after[:])
	}
	limit := f.Limit
	if limit <= 0 || limit > foyer.MaxPageSize {
		limit = foyer.MaxPageSize
	}
	q := `SELECT ` + auditColumns + ` FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*foyer.AuditEntry{}
	for rows.Next() {
		e, err := scanAuditEntry(rows)
		if err != nil {
			return nil, translate("find audit entries", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("find audit entries", err)
	}
	return out, nil
}

package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

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

func scanAuditEntry(row pgx.Row) (*foyer.AuditEntry, error) {
	var (
		e          foyer.AuditEntry
		target, ip *string
		details    []byte
	)
	if err := row.Scan(&e.ID, &e.Actor, &e.Action, &target, &e.Status, &ip, &details, &e.CreatedAt); err != nil {
		return nil, err
	}
	if target != nil {
		e.Target = *target
	}
	if ip != nil {
		e.IP = *ip
	}
	if len(details) > 0 {
		e.Details = json.RawMessage(details)
	}
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
	details, err := checkDetails(e.Details)
	if err != nil {
		return err
	}
	now := s.db.now()
	id := s.db.newID(now)
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO audit_log (id, actor, action, target, status, ip, details, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, e.Actor, e.Action, nullString(e.Target), e.Status, nullString(e.IP), []byte(details), now); err != nil {
		return translate("create audit entry", err)
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Actor != nil {
		where = append(where, "actor = "+arg(*f.Actor))
	}
	if f.Target != nil {
		where = append(where, "target = "+arg(*f.Target))
	}
	if f.Since != nil {
		where = append(where, "id >= "+arg(idFloor(ceilMs(*f.Since).UnixMilli())))
	}
	if f.After != "" {
		after, ok := parseID(f.After)
		if !ok {
			return nil, foyer.Errorf(foyer.EInvalid, "The cursor is not valid.")
		}
		where = append(where, "id < "+arg(after))
	}
	limit := f.Limit
	if limit <= 0 || limit > foyer.MaxPageSize {
		limit = foyer.MaxPageSize
	}
	q := `SELECT ` + auditColumns + ` FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ` + arg(limit)
	rows, err := s.db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate("find audit entries", err)
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

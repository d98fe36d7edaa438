package http

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	foyer "github.com/foyerhq/foyer"
)

// audited runs h, the handler of a server API route called with key k, and
// then records the call in the audit log: the key, the route pattern, the
// {id} it acted on, the status it answered with and the client's address.
// Failures are recorded as well as successes, and reads as well as
// writes, since they disclose personal data. The entry is written once the
// handler is done, when the status is known, even if the client has gone;
// a failure to write it is logged, as the call itself has happened.
func (s *Server) audited(k *foyer.APIKey, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (err error) {
		sw := &statusWriter{ResponseWriter: w}
		rid := w.Header().Get("X-Request-Id") // set by serve
		defer func() {
			status := sw.status
			if p := recover(); p != nil {
				// serve reports the panic as an internal error.
				s.audit(r, k, rid, http.StatusInternalServerError)
				panic(p)
			}
			if err != nil && status == 0 {
				status = ErrorStatus(foyer.ErrorCode(err))
			}
			if status == 0 {
				status = http.StatusOK
			}
			s.audit(r, k, rid, status)
		}()
		return h(sw, r)
	}
}

// auditDetails is the Details of an audit entry: the request id, which the
// server log repeats, ties the entry to the log lines of the call.
type auditDetails struct {
	RequestID string `json:"request_id,omitempty"`
}

// audit appends the entry of a server API call, whose request id is rid,
// that answered status.
func (s *Server) audit(r *http.Request, k *foyer.APIKey, rid string, status int) {
	e := &foyer.AuditEntry{
		Actor:  "api_key:" + k.ID,
		Action: r.Pattern,
		Target: r.PathValue("id"),
		Status: status,
	}
	if a := s.clientIP(r); a.IsValid() {
		e.IP = a.String()
	}
	if rid != "" {
		e.Details, _ = json.Marshal(auditDetails{RequestID: rid})
	}
	// The call has been answered: its record must not depend on the
	// client waiting for it.
	ctx := context.WithoutCancel(r.Context())
	if err := s.deps.Audit.CreateAuditEntry(ctx, e); err != nil {
		s.logger.ErrorContext(ctx, "record audit entry",
			slog.String("actor", e.Actor), slog.String("action", e.Action),
			slog.String("target", e.Target), slog.Int("status", status), slog.Any("err", err))
	}
}

// statusWriter remembers the status a handler answered with. Unwrap lets
// http.ResponseController reach the underlying writer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// auditPage is the body of GET /v1/audit.
type auditPage struct {
	Entries    []*foyer.AuditEntry `json:"entries"`
	NextCursor string              `json:"next_cursor,omitempty"`
}

// listAudit handles GET /v1/audit with the filters actor, target, since,
// limit and cursor: the audit log, newest first.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r.URL.Query(), "actor", "target", "since", "limit", "cursor")
	f := foyer.AuditFilter{
		Actor:  q.string("actor"),
		Target: q.string("target"),
		Since:  q.time("since"),
		After:  q.cursor(),
	}
	limit := q.limit()
	if q.err != nil {
		return q.err
	}
	f.Limit = fetchSize(limit)
	entries, err := s.deps.Audit.FindAuditEntries(r.Context(), f)
	if err != nil {
		return err
	}
	entries, next := page(entries, limit, func(e *foyer.AuditEntry) string { return e.ID })
	if entries == nil {
		entries = []*foyer.AuditEntry{}
	}
	return writeJSON(w, http.StatusOK, auditPage{Entries: entries, NextCursor: next})
}

package http

import (
	"net/http"

	foyer "github.com/foyerhq/foyer"
)

// healthz handles GET /healthz: the process is up and serving.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz handles GET /readyz: the database answers, so the instance can
// take traffic. A failure is 503 unavailable.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Ping != nil {
		if err := s.deps.Ping(r.Context()); err != nil {
			return &foyer.Error{Code: foyer.EUnavailable, Message: "The database is not available.", Err: err}
		}
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

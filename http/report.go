package http

import "net/http"

// report handles GET /v1/reports/{name}: Deps.Reports answers it, after
// the API key check, and the audit log records it like every server API
// call.
func (s *Server) report(w http.ResponseWriter, r *http.Request) error {
	s.deps.Reports.ServeHTTP(w, r)
	return nil
}

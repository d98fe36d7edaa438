package http

import (
	"encoding/json"
	"net/http"

	foyer "github.com/foyerhq/foyer"
)

// exportMe handles GET /v1/me/export: everything Foyer stores about the
// visitor, as one JSON document to download.
func (s *Server) exportMe(w http.ResponseWriter, r *http.Request) error {
	return s.writeExport(w, r, UserFromContext(r.Context()).ID)
}

// exportUser handles GET /v1/users/{id}/export on the server API, for a
// person who asks the app for their data.
func (s *Server) exportUser(w http.ResponseWriter, r *http.Request) error {
	return s.writeExport(w, r, r.PathValue("id"))
}

// writeExport writes the export of user id as an attachment named
// foyer-export-<id>.json.
func (s *Server) writeExport(w http.ResponseWriter, r *http.Request, id string) error {
	e, err := s.deps.Exports.ExportUser(r.Context(), id)
	if err != nil {
		return err
	}
	exportDoc(e)
	// The stored id, a UUID, names the file: nothing from the request
	// reaches the header.
	w.Header().Set("Content-Disposition", `attachment; filename="foyer-export-`+e.User.ID+`.json"`)
	return writeJSON(w, http.StatusOK, e)
}

// exportDoc makes e ready to render: lists are never null, the user's
// data is an object, and queued mail keeps when its link expires but not
// the link's token, which the store leaves out already; it is dropped here
// again because a token in a download would let anyone who sees the file
// use the link.
func exportDoc(e *foyer.Export) {
	userDoc(e.User)
	if e.Sessions == nil {
		e.Sessions = []*foyer.Session{}
	}
	if e.Conversions == nil {
		e.Conversions = []foyer.ExportedConversion{}
	}
	if e.Events == nil {
		e.Events = []*foyer.Event{}
	}
	if e.Deliveries == nil {
		e.Deliveries = []*foyer.Delivery{}
	}
	if e.Aliases == nil {
		e.Aliases = []*foyer.Alias{}
	}
	if e.Mail == nil {
		e.Mail = []*foyer.Mail{}
	}
	for _, m := range e.Mail {
		var d foyer.MailData
		if len(m.Data) > 0 && json.Unmarshal(m.Data, &d) != nil {
			d = foyer.MailData{}
		}
		m.Data, _ = json.Marshal(foyer.MailData{ExpiresAt: d.ExpiresAt})
	}
}

package http

import (
	"net/http"
	"regexp"
	"slices"
	"time"
)

// devMessage is one message of the development mailbox.
type devMessage struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	To        string     `json:"to"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
	Subject   string     `json:"subject,omitempty"`
	Text      string     `json:"text,omitempty"`
	HTML      string     `json:"html,omitempty"`
	// Links are the URLs in the text, in order.
	Links []string `json:"links"`
	// RenderError says why the message could not be rendered.
	RenderError string `json:"render_error,omitempty"`
}

// devMailbox is the body of GET /v1/dev/mail.
type devMailbox struct {
	Messages []devMessage `json:"messages"`
}

// linkPattern finds the URLs in a rendered text.
var linkPattern = regexp.MustCompile(`https?://[^\s<>"']+`)

// devMail handles GET /v1/dev/mail[?to=…&limit=…] on the server API, served
// in development mode only: the newest queued or sent messages, rendered
// as they are mailed, with the links they carry, so a developer can follow
// a conversion or reset without an SMTP server.
func (s *Server) devMail(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r.URL.Query(), "to", "limit")
	to := q.email("to")
	limit := q.limit()
	if q.err != nil {
		return q.err
	}
	msgs, err := s.deps.Mail.FindMail(r.Context(), to, limit)
	if err != nil {
		return err
	}
	out := devMailbox{Messages: make([]devMessage, 0, len(msgs))}
	for _, m := range msgs {
		d := devMessage{ID: m.ID, Kind: m.Kind, To: m.To, CreatedAt: m.CreatedAt, SentAt: m.SentAt, Links: []string{}}
		if s.deps.Render != nil {
			subject, text, html, err := s.deps.Render(m)
			if err != nil {
				d.RenderError = err.Error()
			} else {
				d.Subject, d.Text, d.HTML = subject, text, html
				for _, l := range linkPattern.FindAllString(text, -1) {
					if !slices.Contains(d.Links, l) {
						d.Links = append(d.Links, l)
					}
				}
			}
		}
		out.Messages = append(out.Messages, d)
	}
	return writeJSON(w, http.StatusOK, out)
}

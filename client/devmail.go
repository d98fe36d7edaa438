package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DevMessage is a message of Foyer's development mailbox: mail that a
// Foyer in development mode (no SMTP server) keeps instead of sending.
type DevMessage struct {
	ID string `json:"id"`
	// Kind is the kind of mail, such as foyer.MailConversion.
	Kind      string     `json:"kind"`
	To        string     `json:"to"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
	Subject   string     `json:"subject,omitempty"`
	Text      string     `json:"text,omitempty"`
	HTML      string     `json:"html,omitempty"`
	// Links are the addresses in the text, in order: the link a person
	// would click is among them.
	Links []string `json:"links"`
	// RenderError says why the message could not be rendered.
	RenderError string `json:"render_error,omitempty"`
}

// DevMail returns the newest messages of the development mailbox (GET
// /v1/dev/mail), newest first: those to the address to, or to anyone
// when to is "", at most limit of them (0 for the server's default). Foyer
// serves the mailbox only in development mode; otherwise the answer is
// ENotFound. Returns EInvalid for a bad address or limit.
func (c *Client) DevMail(ctx context.Context, to string, limit int) ([]*DevMessage, error) {
	q := url.Values{}
	if to != "" {
		q.Set("to", to)
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Messages []*DevMessage `json:"messages"`
	}
	req := c.server(http.MethodGet, "/v1/dev/mail")
	req.query, req.out = q, &out
	if _, err := c.do(ctx, req); err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// Package mail sends Foyer's outbound email: it owns the templates of the
// root mail kinds (embedded, overridable file by file from a directory),
// renders them into multipart/alternative MIME messages, delivers them over
// SMTP, and runs the durable Worker that drains the foyer.MailService
// queue, retrying with backoff until a message is delivered or given up.
//
// Mail is only ever sent by the Worker, never by the request that queued
// it, so a slow or dead SMTP server cannot slow a request down. Every link
// in a message is built from Config.PublicURL, never from a request.
//
// The package imports the foyer root and its SMTP dependency only, never
// another Foyer package. That dependency is github.com/emersion/go-smtp
// (with github.com/emersion/go-sasl for authentication): it is maintained,
// it speaks STARTTLS, implicit TLS and AUTH with per-command timeouts, and
// the same module provides an SMTP server, so the tests deliver to a real
// server instead of a fake.
package mail

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	texttemplate "text/template"

	"github.com/foyerhq/foyer"
)

//go:embed templates/*.tmpl
var embedded embed.FS

// Config is what the templates need to know about the deployment. The cmd
// package fills it from its own configuration.
type Config struct {
	// PublicURL is the base URL people reach Foyer at, such as
	// "https://id.example.com". It is the only source of links in mail
	// (DESIGN §2.6).
	PublicURL string
	// From is the sender, as an address or "Name <address>". Its address
	// is also the SMTP envelope sender and names the Message-ID domain.
	From string
	// SiteName is the name people know the site by, shown in subjects and
	// greetings. It defaults to the host of PublicURL.
	SiteName string
	// LinkTTL is how long conversion and reset links stay valid, shown in
	// the message ("expires in 1 hour"). It must match what the server
	// issues.
	LinkTTL time.Duration
	// TemplateDir, when set, is a directory whose files replace the
	// embedded templates of the same name, one by one. Names are
	// KIND.subject.tmpl, KIND.txt.tmpl and KIND.html.tmpl for each mail
	// kind (conversion, conversion_existing, password_reset). A file with
	// any other name ending in .tmpl is an error, so a misspelt override
	// cannot be silently ignored.
	TemplateDir string
}

// kinds lists the mail kinds there are templates for.
var kinds = []string{foyer.MailConversion, foyer.MailConversionExisting, foyer.MailPasswordReset}

// TemplateData is what a template sees. The raw token is not in it: a
// template can only show a link that Foyer built.
type TemplateData struct {
	// Kind is the mail kind.
	Kind string
	// To is the recipient's address.
	To string
	// SiteName is Config.SiteName.
	SiteName string
	// PublicURL is Config.PublicURL without a trailing slash.
	PublicURL string
	// Link is the message's call to action: the conversion or reset link,
	// or the sign-in page for MailConversionExisting.
	Link string
	// LoginURL is the sign-in page, <public>/login.
	LoginURL string
	// LinkTTL is Config.LinkTTL in words, such as "1 hour".
	LinkTTL string
	// ExpiresAt is when the link stops working, or zero if unknown.
	ExpiresAt time.Time
}

type kindTemplates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// Templates renders queued foyer.Mail into messages. It is safe for
// concurrent use.
type Templates struct {
	from     *netmail.Address
	public   string
	siteName string
	linkTTL  time.Duration
	kinds    map[string]kindTemplates
}

// NewTemplates validates cfg, loads the embedded templates with the
// overrides from cfg.TemplateDir and renders each once with sample data,
// so that a broken template fails at startup rather than in the worker.
func NewTemplates(cfg Config) (*Templates, error) {
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("mail: public URL %q must be an absolute http(s) URL without credentials, query or fragment", cfg.PublicURL)
	}
	if cfg.From == "" {
		return nil, errors.New("mail: a From address is required")
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: From address %q: %w", cfg.From, err)
	}
	if at := strings.LastIndexByte(from.Address, '@'); at < 0 || at == len(from.Address)-1 {
		return nil, fmt.Errorf("mail: From address %q has no domain", cfg.From)
	}
	if cfg.LinkTTL <= 0 {
		return nil, errors.New("mail: LinkTTL must be positive")
	}
	t := &Templates{
		from:     from,
		public:   strings.TrimRight(u.String(), "/"),
		siteName: cmp.Or(strings.TrimSpace(cfg.SiteName), u.Host),
		linkTTL:  cfg.LinkTTL,
		kinds:    make(map[string]kindTemplates, len(kinds)),
	}

	var dir fs.FS
	if cfg.TemplateDir != "" {
		dir = os.DirFS(cfg.TemplateDir)
		if err := checkOverrides(dir); err != nil {
			return nil, fmt.Errorf("mail: template directory %s: %w", cfg.TemplateDir, err)
		}
	}
	for _, kind := range kinds {
		var kt kindTemplates
		if kt.subject, err = parseText(dir, kind+".subject.tmpl"); err != nil {
			return nil, err
		}
		if kt.text, err = parseText(dir, kind+".txt.tmpl"); err != nil {
			return nil, err
		}
		if kt.html, err = parseHTML(dir, kind+".html.tmpl"); err != nil {
			return nil, err
		}
		t.kinds[kind] = kt
	}

	for _, kind := range kinds {
		sample := &foyer.Mail{ID: "sample", Kind: kind, To: "someone@example.org", Data: json.RawMessage(`{"token":"sample"}`)}
		if _, _, _, err := t.Render(sample); err != nil {
			return nil, fmt.Errorf("mail: template check: %w", err)
		}
	}
	return t, nil
}

// checkOverrides rejects any .tmpl file in dir that would not override an
// embedded template.
func checkOverrides(dir fs.FS) error {
	entries, err := fs.ReadDir(dir, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".tmpl" {
			continue
		}
		if _, err := fs.Stat(embedded, "templates/"+name); err != nil {
			return fmt.Errorf("unknown template %s (known: KIND.subject.tmpl, KIND.txt.tmpl, KIND.html.tmpl for %s)", name, strings.Join(kinds, ", "))
		}
	}
	return nil
}

// readTemplate returns the override of name from dir if there is one, or
// the embedded template.
func readTemplate(dir fs.FS, name string) ([]byte, error) {
	if dir != nil {
		b, err := fs.ReadFile(dir, name)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("mail: read template %s: %w", name, err)
		}
	}
	return fs.ReadFile(embedded, "templates/"+name)
}

func parseText(dir fs.FS, name string) (*texttemplate.Template, error) {
	b, err := readTemplate(dir, name)
	if err != nil {
		return nil, err
	}
	t, err := texttemplate.New(name).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("mail: parse template: %w", err)
	}
	return t, nil
}

func parseHTML(dir fs.FS, name string) (*htmltemplate.Template, error) {
	b, err := readTemplate(dir, name)
	if err != nil {
		return nil, err
	}
	t, err := htmltemplate.New(name).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("mail: parse template: %w", err)
	}
	return t, nil
}

// EnvelopeFrom returns the bare address of Config.From, the SMTP envelope
// sender.
func (t *Templates) EnvelopeFrom() string { return t.from.Address }

// Data returns what the templates of m see, with its links built from
// Config.PublicURL: for MailConversion <public>/convert/complete?token=…,
// for MailPasswordReset <public>/password/reset?token=…, and for
// MailConversionExisting only the sign-in page <public>/login, never a
// link that changes anything. It fails for an unknown kind, a To that is
// not a normalised address, or a missing token.
func (t *Templates) Data(m *foyer.Mail) (*TemplateData, error) {
	if m == nil {
		return nil, errors.New("mail: nil message")
	}
	// A message goes to exactly the stored address and nothing else: an
	// address that normalisation would change (or reject) is refused
	// rather than sent to a differently spelled mailbox. This also keeps
	// header-breaking characters out of the To header.
	if norm, err := foyer.NormalizeEmail(m.To); err != nil || norm != m.To {
		return nil, fmt.Errorf("mail: recipient %q is not a normalised address", m.To)
	}
	var md foyer.MailData
	if len(m.Data) > 0 && string(m.Data) != "null" {
		if err := json.Unmarshal(m.Data, &md); err != nil {
			return nil, fmt.Errorf("mail: data of %s message: %w", m.Kind, err)
		}
	}
	d := &TemplateData{
		Kind:      m.Kind,
		To:        m.To,
		SiteName:  t.siteName,
		PublicURL: t.public,
		LoginURL:  t.public + "/login",
		LinkTTL:   Duration(t.linkTTL),
		ExpiresAt: md.ExpiresAt,
	}
	switch m.Kind {
	case foyer.MailConversion:
		if md.Token == "" {
			return nil, errors.New("mail: conversion message without a token")
		}
		d.Link = t.public + "/convert/complete?token=" + url.QueryEscape(md.Token)
	case foyer.MailPasswordReset:
		if md.Token == "" {
			return nil, errors.New("mail: password reset message without a token")
		}
		d.Link = t.public + "/password/reset?token=" + url.QueryEscape(md.Token)
	case foyer.MailConversionExisting:
		d.Link = d.LoginURL
	default:
		return nil, fmt.Errorf("mail: unknown mail kind %q", m.Kind)
	}
	return d, nil
}

// Render returns the subject, plain text and HTML of m. The subject is
// one line: white space inside it is collapsed. The development mailbox
// shows messages through it.
func (t *Templates) Render(m *foyer.Mail) (subject, text, html string, err error) {
	d, err := t.Data(m)
	if err != nil {
		return "", "", "", err
	}
	kt := t.kinds[m.Kind]
	var b strings.Builder
	if err := kt.subject.Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render subject: %w", err)
	}
	subject = strings.Join(strings.Fields(b.String()), " ")
	if subject == "" {
		return "", "", "", fmt.Errorf("mail: the %s subject template renders empty", m.Kind)
	}
	b.Reset()
	if err := kt.text.Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render text: %w", err)
	}
	text = b.String()
	b.Reset()
	if err := kt.html.Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render HTML: %w", err)
	}
	return subject, text, b.String(), nil
}

// Message renders m into a complete RFC 5322 message: Date (from now),
// Message-ID (derived from m.ID, so every attempt carries the same one),
// From, To (exactly m.To), Subject (RFC 2047 encoded when not ASCII),
// MIME-Version and a multipart/alternative body with a quoted-printable
// text part and HTML part. Lines end in CRLF.
func (t *Templates) Message(m *foyer.Mail, now time.Time) ([]byte, error) {
	subject, text, html, err := t.Render(m)
	if err != nil {
		return nil, err
	}
	if m.ID == "" || strings.ContainsFunc(m.ID, func(r rune) bool {
		return !(r == '-' || r == '.' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	}) {
		return nil, fmt.Errorf("mail: message id %q cannot name a Message-ID", m.ID)
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := writePart(mw, "text/plain; charset=utf-8", text); err != nil {
		return nil, err
	}
	if err := writePart(mw, "text/html; charset=utf-8", html); err != nil {
		return nil, err
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}

	domain := t.from.Address[strings.LastIndexByte(t.from.Address, '@')+1:]
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+m.ID+"@"+domain+">")
	header("From", t.from.String())
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("MIME-Version", "1.0")
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	b.Write(body.Bytes())
	return b.Bytes(), nil
}

func writePart(mw *multipart.Writer, contentType, content string) error {
	pw, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {contentType},
		"Content-Transfer-Encoding": {"quoted-printable"},
	})
	if err != nil {
		return err
	}
	qw := quotedprintable.NewWriter(pw)
	if _, err := io.WriteString(qw, content); err != nil {
		return err
	}
	return qw.Close()
}

// Duration writes d in words for a message, such as "1 hour",
// "90 minutes" or "2 days". It is exact to the minute: a duration that is
// not a whole number of minutes is rounded up, so a link never expires
// earlier than a message says.
func Duration(d time.Duration) string {
	if d <= 0 {
		return "0 minutes"
	}
	minutes := int64((d + time.Minute - 1) / time.Minute)
	n, unit := minutes, "minute"
	switch {
	case minutes%(24*60) == 0:
		n, unit = minutes/(24*60), "day"
	case minutes%60 == 0:
		n, unit = minutes/60, "hour"
	}
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

package mail_test

import (
	"bytes"
	"encoding/json"
	stdhtml "html"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/mail"
)

// testConfig is the configuration the tests render with.
func testConfig() mail.Config {
	return mail.Config{
		PublicURL: "https://id.example.org",
		From:      "Example <no-reply@example.org>",
		SiteName:  "Example",
		LinkTTL:   time.Hour,
	}
}

func newTemplates(t *testing.T, cfg mail.Config) *mail.Templates {
	t.Helper()
	tpl, err := mail.NewTemplates(cfg)
	if err != nil {
		t.Fatalf("NewTemplates: %v", err)
	}
	return tpl
}

// mailData encodes the Data of a queued message.
func mailData(t testing.TB, token string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(foyer.MailData{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parsed is a delivered message taken apart.
type parsed struct {
	Header netmail.Header
	// Subject is the decoded subject.
	Subject string
	// Types are the content types of the alternative parts, in order.
	Types []string
	Text  string
	HTML  string
}

// parseMessage parses raw as a multipart/alternative message with
// net/mail and mime/multipart, failing the test if it is malformed.
func parseMessage(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("ReadMessage: %v\n%s", err, raw)
	}
	p := parsed{Header: msg.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	if got := msg.Header.Get("MIME-Version"); got != "1.0" {
		t.Errorf("MIME-Version=%q, want 1.0", got)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type=%q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("NextPart: %v", err)
		}
		// NextPart decodes quoted-printable itself.
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		p.Types = append(p.Types, ct)
		switch ct {
		case "text/plain":
			p.Text = string(body)
		case "text/html":
			p.HTML = string(body)
		}
	}
	return p
}

var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+`)

// links returns the URLs in s.
func links(s string) []string { return linkPattern.FindAllString(s, -1) }

func TestRender(t *testing.T) {
	tpl := newTemplates(t, testConfig())
	const token = "tok/+ &=?é"
	tests := []struct {
		name        string
		kind        string
		wantSubject string
		wantLink    string
	}{
		{"Conversion", foyer.MailConversion, "Save your progress on Example",
			"https://id.example.org/convert/complete?token=" + url.QueryEscape(token)},
		{"ConversionExisting", foyer.MailConversionExisting, "Someone tried to save progress on Example with your address",
			"https://id.example.org/login"},
		{"PasswordReset", foyer.MailPasswordReset, "Reset your Example password",
			"https://id.example.org/password/reset?token=" + url.QueryEscape(token)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &foyer.Mail{ID: "m1", Kind: tt.kind, To: "ann@example.org", Data: mailData(t, token)}
			subject, text, html, err := tpl.Render(m)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if subject != tt.wantSubject {
				t.Errorf("subject=%q, want %q", subject, tt.wantSubject)
			}
			if diff := cmp.Diff([]string{tt.wantLink}, links(text)); diff != "" {
				t.Errorf("text links (-want +got):\n%s\n%s", diff, text)
			}
			// In HTML the link is an attribute and a text, HTML-escaped;
			// unescaped, every one is the same URL.
			htmlLinks := links(html)
			if len(htmlLinks) == 0 {
				t.Errorf("HTML has no link:\n%s", html)
			}
			for _, l := range htmlLinks {
				if got := stdhtml.UnescapeString(l); got != tt.wantLink {
					t.Errorf("HTML link %q, want %q", got, tt.wantLink)
				}
			}
			if !strings.Contains(text, "Example") || !strings.Contains(html, "Example") {
				t.Errorf("site name missing")
			}
			if tt.kind != foyer.MailConversionExisting {
				if !strings.Contains(text, "expires in 1 hour") || !strings.Contains(html, "expires in 1 hour") {
					t.Errorf("link lifetime missing:\n%s", text)
				}
			}
			// Whatever the kind, the token only ever appears inside the link.
			for _, s := range []string{text, html} {
				if strings.Contains(s, token) {
					t.Errorf("raw token outside the link:\n%s", s)
				}
			}
		})
	}

	t.Run("ConversionExistingNeverLinksTheToken", func(t *testing.T) {
		// Even if a store put a token in the data, the mail to an existing
		// owner carries no link that changes anything.
		m := &foyer.Mail{ID: "m1", Kind: foyer.MailConversionExisting, To: "ann@example.org", Data: mailData(t, "secret-token")}
		_, text, html, err := tpl.Render(m)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text+html, "secret-token") || strings.Contains(text+html, "/convert/") {
			t.Errorf("existing-account mail carries a conversion link:\n%s\n%s", text, html)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		tests := []struct {
			name string
			m    *foyer.Mail
		}{
			{"UnknownKind", &foyer.Mail{ID: "m1", Kind: "welcome", To: "ann@example.org", Data: mailData(t, "x")}},
			{"NoToken", &foyer.Mail{ID: "m1", Kind: foyer.MailConversion, To: "ann@example.org"}},
			{"NoResetToken", &foyer.Mail{ID: "m1", Kind: foyer.MailPasswordReset, To: "ann@example.org", Data: json.RawMessage(`{}`)}},
			{"BadData", &foyer.Mail{ID: "m1", Kind: foyer.MailConversion, To: "ann@example.org", Data: json.RawMessage(`[1]`)}},
			{"UpperCaseTo", &foyer.Mail{ID: "m1", Kind: foyer.MailConversion, To: "Ann@example.org", Data: mailData(t, "x")}},
			{"SpacedTo", &foyer.Mail{ID: "m1", Kind: foyer.MailConversion, To: " ann@example.org", Data: mailData(t, "x")}},
			{"HeaderInjection", &foyer.Mail{ID: "m1", Kind: foyer.MailConversion, To: "ann@example.org\r\nBcc: eve@example.org", Data: mailData(t, "x")}},
			{"DisplayName", &foyer.Mail{ID: "m1", Kind: foyer.MailConversion, To: "Ann <ann@example.org>", Data: mailData(t, "x")}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, _, _, err := tpl.Render(tt.m); err == nil {
					t.Fatal("Render succeeded, want an error")
				}
				if _, err := tpl.Message(tt.m, time.Now()); err == nil {
					t.Fatal("Message succeeded, want an error")
				}
			})
		}
	})
}

func TestRenderEscapesHTML(t *testing.T) {
	cfg := testConfig()
	cfg.SiteName = `<b>Ann & "Co"</b>`
	tpl := newTemplates(t, cfg)
	m := &foyer.Mail{ID: "m1", Kind: foyer.MailConversion, To: "ann@example.org", Data: mailData(t, `"><script>alert(1)</script>`)}
	subject, text, html, err := tpl.Render(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "<b>") || strings.Contains(html, "<script>") {
		t.Errorf("HTML not escaped:\n%s", html)
	}
	if !strings.Contains(html, "&lt;b&gt;Ann &amp; &#34;Co&#34;&lt;/b&gt;") {
		t.Errorf("HTML lacks the escaped site name:\n%s", html)
	}
	// Text parts and subjects are plain text: nothing to escape.
	if !strings.Contains(text, cfg.SiteName) || !strings.Contains(subject, cfg.SiteName) {
		t.Errorf("text or subject lost the site name: %q\n%s", subject, text)
	}
}

func TestMessage(t *testing.T) {
	cfg := testConfig()
	cfg.SiteName = "Café Zoë"
	tpl := newTemplates(t, cfg)
	now := time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)
	m := &foyer.Mail{ID: "0195f3c2-7d1e-7abc-8def-0123456789ab", Kind: foyer.MailConversion, To: "ann.o'neil+saves@example.org", Data: mailData(t, "abc")}
	raw, err := tpl.Message(m, now)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("CRLF", func(t *testing.T) {
		if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
			t.Error("message has a bare LF")
		}
		for _, line := range bytes.Split(raw, []byte("\r\n")) {
			if len(line) > 998 {
				t.Errorf("line of %d bytes", len(line))
			}
		}
	})
	p := parseMessage(t, raw)
	t.Run("Headers", func(t *testing.T) {
		if got := p.Header.Get("To"); got != m.To {
			t.Errorf("To=%q, want exactly %q", got, m.To)
		}
		from, err := netmail.ParseAddress(p.Header.Get("From"))
		if err != nil || from.Address != "no-reply@example.org" || from.Name != "Example" {
			t.Errorf("From=%q (%v)", p.Header.Get("From"), err)
		}
		if got, want := p.Header.Get("Message-ID"), "<"+m.ID+"@example.org>"; got != want {
			t.Errorf("Message-ID=%q, want %q", got, want)
		}
		date, err := p.Header.Date()
		if err != nil || !date.Equal(now) {
			t.Errorf("Date=%q (%v), want %v", p.Header.Get("Date"), err, now)
		}
	})
	t.Run("RFC2047Subject", func(t *testing.T) {
		rawSubject := p.Header.Get("Subject")
		if !strings.HasPrefix(rawSubject, "=?utf-8?q?") {
			t.Errorf("raw Subject %q is not RFC 2047 encoded", rawSubject)
		}
		for i := 0; i < len(rawSubject); i++ {
			if rawSubject[i] >= 0x80 {
				t.Fatalf("raw Subject %q is not ASCII", rawSubject)
			}
		}
		if want := "Save your progress on Café Zoë"; p.Subject != want {
			t.Errorf("Subject=%q, want %q", p.Subject, want)
		}
	})
	t.Run("ASCIISubjectUnencoded", func(t *testing.T) {
		tpl := newTemplates(t, testConfig())
		raw, err := tpl.Message(m, now)
		if err != nil {
			t.Fatal(err)
		}
		p := parseMessage(t, raw)
		if got := p.Header.Get("Subject"); got != "Save your progress on Example" {
			t.Errorf("Subject=%q", got)
		}
	})
	t.Run("Parts", func(t *testing.T) {
		if diff := cmp.Diff([]string{"text/plain", "text/html"}, p.Types); diff != "" {
			t.Errorf("parts (-want +got):\n%s", diff)
		}
		if !strings.Contains(p.Text, "Café Zoë") || !strings.Contains(p.HTML, "Café Zoë") {
			t.Errorf("UTF-8 text did not survive quoted-printable:\n%s", p.Text)
		}
		want := "https://id.example.org/convert/complete?token=abc"
		if diff := cmp.Diff([]string{want}, links(p.Text)); diff != "" {
			t.Errorf("links (-want +got):\n%s", diff)
		}
	})
	t.Run("SameMessageIDOnRetry", func(t *testing.T) {
		again, err := tpl.Message(m, now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got := parseMessage(t, again).Header.Get("Message-ID"); got != p.Header.Get("Message-ID") {
			t.Errorf("Message-ID changed between attempts: %q, %q", got, p.Header.Get("Message-ID"))
		}
	})
}

func TestNewTemplates(t *testing.T) {
	t.Run("PublicURLWithPath", func(t *testing.T) {
		cfg := testConfig()
		cfg.PublicURL = "https://example.org/foyer/"
		cfg.SiteName = ""
		tpl := newTemplates(t, cfg)
		subject, text, _, err := tpl.Render(&foyer.Mail{ID: "m1", Kind: foyer.MailPasswordReset, To: "ann@example.org", Data: mailData(t, "t1")})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"https://example.org/foyer/password/reset?token=t1"}, links(text)); diff != "" {
			t.Errorf("links (-want +got):\n%s", diff)
		}
		if subject != "Reset your example.org password" {
			t.Errorf("subject=%q: site name should default to the public host", subject)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		tests := []struct {
			name   string
			mutate func(*mail.Config)
		}{
			{"NoPublicURL", func(c *mail.Config) { c.PublicURL = "" }},
			{"RelativePublicURL", func(c *mail.Config) { c.PublicURL = "/foyer" }},
			{"JavaScriptPublicURL", func(c *mail.Config) { c.PublicURL = "javascript:alert(1)" }},
			{"PublicURLWithQuery", func(c *mail.Config) { c.PublicURL = "https://id.example.org/?a=b" }},
			{"PublicURLWithUser", func(c *mail.Config) { c.PublicURL = "https://u:p@id.example.org" }},
			{"NoFrom", func(c *mail.Config) { c.From = "" }},
			{"BadFrom", func(c *mail.Config) { c.From = "no-reply" }},
			{"NoLinkTTL", func(c *mail.Config) { c.LinkTTL = 0 }},
			{"MissingTemplateDir", func(c *mail.Config) { c.TemplateDir = filepath.Join(t.TempDir(), "missing") }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cfg := testConfig()
				tt.mutate(&cfg)
				if _, err := mail.NewTemplates(cfg); err == nil {
					t.Fatal("NewTemplates succeeded, want an error")
				}
			})
		}
	})
}

func TestTemplateOverride(t *testing.T) {
	write := func(t *testing.T, dir, name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("OK", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "conversion.subject.tmpl", "Keep your {{.SiteName}} progress")
		write(t, dir, "conversion.html.tmpl", `<p>Custom <a href="{{.Link}}">{{.SiteName}}</a></p>`)
		write(t, dir, "README.md", "not a template, ignored")
		cfg := testConfig()
		cfg.TemplateDir = dir
		tpl := newTemplates(t, cfg)
		m := &foyer.Mail{ID: "m1", Kind: foyer.MailConversion, To: "ann@example.org", Data: mailData(t, "t1")}
		subject, text, html, err := tpl.Render(m)
		if err != nil {
			t.Fatal(err)
		}
		if subject != "Keep your Example progress" {
			t.Errorf("subject=%q, want the override", subject)
		}
		if want := `<p>Custom <a href="https://id.example.org/convert/complete?token=t1">Example</a></p>`; html != want {
			t.Errorf("html=%q, want %q", html, want)
		}
		// The text part was not overridden: it is the embedded one.
		def, err := mail.NewTemplates(testConfig())
		if err != nil {
			t.Fatal(err)
		}
		_, wantText, _, _ := def.Render(m)
		if text != wantText {
			t.Errorf("text part changed although not overridden:\n%s", text)
		}
		// Other kinds keep their embedded templates.
		subject, _, _, err = tpl.Render(&foyer.Mail{ID: "m2", Kind: foyer.MailPasswordReset, To: "ann@example.org", Data: mailData(t, "t2")})
		if err != nil || subject != "Reset your Example password" {
			t.Errorf("reset subject=%q (%v)", subject, err)
		}
	})

	t.Run("OverrideStillEscapes", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "password_reset.html.tmpl", `<p>{{.To}}</p>`)
		cfg := testConfig()
		cfg.TemplateDir = dir
		tpl := newTemplates(t, cfg)
		_, _, html, err := tpl.Render(&foyer.Mail{ID: "m1", Kind: foyer.MailPasswordReset, To: "o'hara&co@example.org", Data: mailData(t, "t")})
		if err != nil {
			t.Fatal(err)
		}
		if want := "<p>o&#39;hara&amp;co@example.org</p>"; html != want {
			t.Errorf("html=%q, want %q", html, want)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		tests := []struct{ name, file, content string }{
			{"UnknownName", "conversion.htm.tmpl", "x"},
			{"UnknownKind", "welcome.subject.tmpl", "x"},
			{"ParseError", "conversion.txt.tmpl", "{{.Link"},
			{"UnknownField", "password_reset.txt.tmpl", "{{.Token}}"},
			{"EmptySubject", "conversion_existing.subject.tmpl", "  \n"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				dir := t.TempDir()
				write(t, dir, tt.file, tt.content)
				cfg := testConfig()
				cfg.TemplateDir = dir
				if _, err := mail.NewTemplates(cfg); err == nil {
					t.Fatal("NewTemplates succeeded, want an error")
				}
			})
		}
	})
}

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{time.Hour, "1 hour"},
		{2 * time.Hour, "2 hours"},
		{90 * time.Minute, "90 minutes"},
		{time.Minute, "1 minute"},
		{30 * time.Second, "1 minute"},
		{61 * time.Second, "2 minutes"},
		{24 * time.Hour, "1 day"},
		{72 * time.Hour, "3 days"},
		{25 * time.Hour, "25 hours"},
		{0, "0 minutes"},
	}
	for _, tt := range tests {
		if got := mail.Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v)=%q, want %q", tt.d, got, tt.want)
		}
	}
}

// FuzzMessage checks that whatever a stored message holds, rendering never
// panics, and every message it accepts goes to exactly the stored address
// with links that start at the public URL and carry the token unchanged.
func FuzzMessage(f *testing.F) {
	tpl, err := mail.NewTemplates(testConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(foyer.MailConversion, "ann@example.org", `{"token":"abc"}`)
	f.Add(foyer.MailPasswordReset, "zoë@example.org", `{"token":"a b/c?d=e&f#g"}`)
	f.Add(foyer.MailConversionExisting, "ann@example.org", `{"token":"x"}`)
	f.Add(foyer.MailConversion, "Ann@Example.org", `{"token":"abc"}`)
	f.Add(foyer.MailConversion, "ann@example.org\r\nBcc: x@y.z", `{"token":"abc"}`)
	f.Add(foyer.MailConversion, "ann@example.org", `{"token":"\r\n\u0000"}`)
	f.Add("welcome", "ann@example.org", `null`)
	f.Fuzz(func(t *testing.T, kind, to, data string) {
		m := &foyer.Mail{ID: "m1", Kind: kind, To: to, Data: json.RawMessage(data)}
		raw, err := tpl.Message(m, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			return
		}
		if norm, err := foyer.NormalizeEmail(to); err != nil || norm != to {
			t.Fatalf("accepted a non-normalised recipient %q", to)
		}
		var md foyer.MailData
		if err := json.Unmarshal([]byte(data), &md); err != nil {
			t.Fatalf("accepted undecodable data %q", data)
		}
		p := parseMessage(t, raw)
		if got := p.Header.Get("To"); got != to {
			t.Fatalf("To=%q, want %q", got, to)
		}
		for _, l := range links(p.Text) {
			if !strings.HasPrefix(l, "https://id.example.org/") {
				t.Fatalf("link %q does not start at the public URL", l)
			}
		}
		d, err := tpl.Data(m)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(d.Link)
		if err != nil {
			t.Fatalf("link %q: %v", d.Link, err)
		}
		if u.Scheme != "https" || u.Host != "id.example.org" {
			t.Fatalf("link %q leaves the public URL", d.Link)
		}
		switch kind {
		case foyer.MailConversion, foyer.MailPasswordReset:
			if got := u.Query().Get("token"); got != md.Token {
				t.Fatalf("token %q came back as %q", md.Token, got)
			}
		default:
			if u.RawQuery != "" {
				t.Fatalf("link %q of a %s message has a query", d.Link, kind)
			}
		}
	})
}

package http_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/mail"
)

// TestLinksComeFromConfiguration proves DESIGN §2.6: whatever Host and
// X-Forwarded-* headers a request carries, the links in the mail it
// causes are built from the configured public URL.
func TestLinksComeFromConfiguration(t *testing.T) {
	tmpl, err := mail.NewTemplates(mail.Config{PublicURL: testIssuer, From: "Foyer <no-reply@foyer.test>", LinkTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	spoof := []string{
		"X-Forwarded-Host", "evil.example",
		"X-Forwarded-Proto", "http",
		"Forwarded", "host=evil.example;proto=http",
		"Origin", testIssuer,
	}
	tests := []struct {
		name, kind, email string
		cause             func(ts *testServer, email string) *http.Request
	}{
		{"Conversion", foyer.MailConversion, "ann@example.org", func(ts *testServer, email string) *http.Request {
			s := ts.signup(t)
			return request("POST", "/v1/me/convert", `{"email":"`+email+`"}`,
				join([]string{"Content-Type", "application/json"}, bearer(s.Token), spoof)...)
		}},
		{"PasswordReset", foyer.MailPasswordReset, "bob@example.org", func(ts *testServer, email string) *http.Request {
			u := &foyer.User{Email: email, EmailVerified: true}
			if err := ts.users.CreateUser(t.Context(), u); err != nil {
				t.Fatal(err)
			}
			return request("POST", "/v1/password/forgot", `{"email":"`+email+`"}`,
				join([]string{"Content-Type", "application/json"}, spoof)...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := setup(t)
			r := tt.cause(ts, tt.email)
			r.Host = "evil.example"
			if w := ts.serve(r); w.Code != http.StatusAccepted {
				t.Fatalf("status=%d body=%s, want 202", w.Code, w.Body)
			}
			msgs, err := ts.mail.FindMail(t.Context(), &tt.email, 10)
			if err != nil || len(msgs) != 1 || msgs[0].Kind != tt.kind {
				t.Fatalf("mail=%v err=%v, want one %s", msgs, err, tt.kind)
			}
			_, text, html, err := tmpl.Render(msgs[0])
			if err != nil {
				t.Fatal(err)
			}
			for _, body := range []string{text, html} {
				if strings.Contains(body, "evil.example") {
					t.Fatalf("mail mentions the spoofed host:\n%s", body)
				}
				if !strings.Contains(body, testIssuer+"/") {
					t.Fatalf("mail has no link to %s:\n%s", testIssuer, body)
				}
			}
			if strings.Contains(string(msgs[0].Data), "evil.example") {
				t.Fatalf("queued mail data mentions the spoofed host: %s", msgs[0].Data)
			}
		})
	}
}

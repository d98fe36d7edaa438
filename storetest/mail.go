package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

// mailIDs lists the ids of messages.
func mailIDs(ms []*foyer.Mail) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// queueThree queues three conversion mails, one second apart, and returns
// them oldest first.
func queueThree(t *testing.T, s Services, c *clock) []*foyer.Mail {
	t.Helper()
	var out []*foyer.Mail
	for _, to := range []string{"m1@example.com", "m2@example.com", "m3@example.com"} {
		requestConversion(t, s, c, createAnonymous(t, s, "").ID, to, time.Hour)
		out = append(out, mailTo(t, s, to)[0])
		c.Advance(time.Second)
	}
	return out
}

func testMail(t *testing.T, open Opener) {
	t.Run("ClaimMail", func(t *testing.T) {
		s, c := setup(t, open)
		m := queueThree(t, s, c)
		const lease = time.Minute

		got, err := s.Mail.ClaimMail(t.Context(), c.Now(), lease, 2)
		ok(t, err)
		if diff := cmp.Diff([]string{m[0].ID, m[1].ID}, mailIDs(got)); diff != "" {
			t.Fatalf("first claim (-want +got):\n%s", diff)
		}
		for _, g := range got {
			if g.Attempts != 1 || !g.NextAttemptAt.Equal(c.Now().Add(lease)) {
				t.Fatalf("claimed mail = %+v, want 1 attempt and the lease", g)
			}
		}
		got, err = s.Mail.ClaimMail(t.Context(), c.Now(), lease, 2)
		ok(t, err)
		if diff := cmp.Diff([]string{m[2].ID}, mailIDs(got)); diff != "" {
			t.Fatalf("second claim (-want +got):\n%s", diff)
		}
		got, err = s.Mail.ClaimMail(t.Context(), c.Now(), lease, 2)
		ok(t, err)
		if len(got) != 0 {
			t.Fatalf("leased mail was claimed again: %v", mailIDs(got))
		}

		// A worker that crashed lets its lease lapse.
		c.Advance(lease)
		got, err = s.Mail.ClaimMail(t.Context(), c.Now(), lease, 10)
		ok(t, err)
		if diff := cmp.Diff(mailIDs(m), mailIDs(got)); diff != "" {
			t.Fatalf("claim after the lease (-want +got):\n%s", diff)
		}
		if got[0].Attempts != 2 {
			t.Fatalf("Attempts = %d, want 2", got[0].Attempts)
		}

		got, err = s.Mail.ClaimMail(t.Context(), c.Now().Add(time.Hour), lease, 0)
		ok(t, err)
		if len(got) != 0 {
			t.Fatalf("a claim of 0 returned %d", len(got))
		}
	})

	t.Run("MarkMailSent", func(t *testing.T) {
		s, c := setup(t, open)
		m := queueThree(t, s, c)
		_, err := s.Mail.ClaimMail(t.Context(), c.Now(), time.Minute, 10)
		ok(t, err)
		ok(t, s.Mail.MarkMailSent(t.Context(), m[0].ID))
		c.Advance(time.Hour)
		got, err := s.Mail.ClaimMail(t.Context(), c.Now(), time.Minute, 10)
		ok(t, err)
		if diff := cmp.Diff([]string{m[1].ID, m[2].ID}, mailIDs(got)); diff != "" {
			t.Fatalf("sent mail was claimed (-want +got):\n%s", diff)
		}
		sent := mailTo(t, s, "m1@example.com")[0]
		if sent.SentAt == nil {
			t.Fatal("SentAt not set")
		}
	})

	t.Run("MarkMailFailed", func(t *testing.T) {
		s, c := setup(t, open)
		m := queueThree(t, s, c)
		_, err := s.Mail.ClaimMail(t.Context(), c.Now(), time.Minute, 10)
		ok(t, err)
		next := c.Now().Add(10 * time.Minute)
		ok(t, s.Mail.MarkMailFailed(t.Context(), m[0].ID, next, "421 try later"))
		failed := mailTo(t, s, "m1@example.com")[0]
		if failed.LastError != "421 try later" || !failed.NextAttemptAt.Equal(next) || failed.SentAt != nil {
			t.Fatalf("failed mail = %+v", failed)
		}
		c.Advance(5 * time.Minute)
		got, err := s.Mail.ClaimMail(t.Context(), c.Now(), time.Minute, 10)
		ok(t, err)
		if diff := cmp.Diff([]string{m[1].ID, m[2].ID}, mailIDs(got)); diff != "" {
			t.Fatalf("mail was claimed before its retry time (-want +got):\n%s", diff)
		}
		ok(t, s.Mail.MarkMailSent(t.Context(), m[1].ID))
		ok(t, s.Mail.MarkMailSent(t.Context(), m[2].ID))
		c.Advance(5 * time.Minute)
		got, err = s.Mail.ClaimMail(t.Context(), c.Now(), time.Minute, 10)
		ok(t, err)
		if diff := cmp.Diff([]string{m[0].ID}, mailIDs(got)); diff != "" {
			t.Fatalf("retry (-want +got):\n%s", diff)
		}
	})

	for _, nf := range notFoundIDs() {
		t.Run("MarkMailSent/"+nf.name, func(t *testing.T) {
			s, _ := setup(t, open)
			wantCode(t, s.Mail.MarkMailSent(t.Context(), nf.id), foyer.ENotFound)
		})
		t.Run("MarkMailFailed/"+nf.name, func(t *testing.T) {
			s, c := setup(t, open)
			wantCode(t, s.Mail.MarkMailFailed(t.Context(), nf.id, c.Now(), "x"), foyer.ENotFound)
		})
	}

	t.Run("FindMail", func(t *testing.T) {
		s, c := setup(t, open)
		m := queueThree(t, s, c)
		tests := []struct {
			name  string
			to    *string
			limit int
			want  []*foyer.Mail
		}{
			{"OK/All", nil, 10, []*foyer.Mail{m[2], m[1], m[0]}},
			{"OK/Limit", nil, 2, []*foyer.Mail{m[2], m[1]}},
			{"OK/DefaultLimit", nil, 0, []*foyer.Mail{m[2], m[1], m[0]}},
			{"OK/To", ptr("m2@example.com"), 10, []*foyer.Mail{m[1]}},
			{"OK/ToNobody", ptr("nobody@example.com"), 10, []*foyer.Mail{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Mail.FindMail(t.Context(), tt.to, tt.limit)
				ok(t, err)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("(-want +got):\n%s", diff)
				}
			})
		}
	})
}

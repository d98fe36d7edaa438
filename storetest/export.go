package storetest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerhq/foyer"
)

// secretForms returns the ways a secret may show up in a JSON document:
// as it is and, for bytes, in hex and base64.
func secretForms(raw string, hashes ...[]byte) []string {
	out := []string{}
	if raw != "" {
		out = append(out, raw)
	}
	for _, h := range hashes {
		out = append(out, hex.EncodeToString(h), base64.StdEncoding.EncodeToString(h), base64.RawURLEncoding.EncodeToString(h))
	}
	return out
}

// wantJSONWithout fails the test if the JSON encoding of x holds one of
// secrets.
func wantJSONWithout(t *testing.T, x any, secrets ...string) {
	t.Helper()
	b, err := json.Marshal(x)
	ok(t, err)
	for _, sec := range secrets {
		if strings.Contains(string(b), sec) {
			t.Errorf("the export holds the secret %q: %s", sec, b)
		}
	}
}

// eventsOf returns the events about any of the users, oldest first.
func eventsOf(t *testing.T, s Services, userIDs ...string) []*foyer.Event {
	t.Helper()
	var out []*foyer.Event
	for _, id := range userIDs {
		out = append(out, userEvents(t, s, id)...)
	}
	slices.SortFunc(out, func(a, b *foyer.Event) int { return cmpString(a.ID, b.ID) })
	return out
}

// deliveriesOf returns the deliveries of events about any of the users,
// oldest first.
func deliveriesOf(t *testing.T, s Services, userIDs ...string) []*foyer.Delivery {
	t.Helper()
	var out []*foyer.Delivery
	for _, id := range userIDs {
		out = append(out, deliveries(t, s, foyer.DeliveryFilter{UserID: &id})...)
	}
	slices.SortFunc(out, func(a, b *foyer.Delivery) int { return cmpString(a.ID, b.ID) })
	return out
}

func testExport(t *testing.T, open Opener) {
	t.Run("OK/Registered", func(t *testing.T) {
		s, c := setup(t, open)
		ctx := t.Context()
		w := createWebhook(t, s)
		u := createAnonymous(t, s, `{"favourite":"export-me"}`)
		convRaw, convHash := requestConversion(t, s, c, u.ID, "ann@example.com", time.Hour)
		const passwordHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"
		_, err := s.Conversions.CompleteConversion(ctx, convHash, passwordHash, nil)
		ok(t, err)
		c.Advance(time.Minute)
		sess := createSession(t, s, c, u.ID, time.Hour)
		resetRaw, resetHash := newToken(t)
		ok(t, s.Credentials.RequestPasswordReset(ctx, foyer.PasswordResetRequest{
			Email: "ann@example.com", TokenHash: resetHash, Token: resetRaw, ExpiresAt: c.Now().Add(time.Hour)}))
		// A second browser's anonymous account, merged in.
		other := createAnonymous(t, s, `{"theme":"dark"}`)
		_, err = s.Merges.MergeUsers(ctx, other.ID, u.ID, foyer.MergeRegisteredWins)
		ok(t, err)
		// Someone else tries to save progress with Ann's address.
		stranger := createAnonymous(t, s, `{"stranger":"not-ann"}`)
		strangerRaw, strangerHash := requestConversion(t, s, c, stranger.ID, "ann@example.com", time.Hour)
		fanOut(t, s)
		c.Advance(time.Minute)

		x, err := s.Exports.ExportUser(ctx, u.ID)
		ok(t, err)
		if diff := cmp.Diff(findUser(t, s, u.ID), x.User); diff != "" {
			t.Fatalf("user (-want +got):\n%s", diff)
		}
		wantSess := *sess
		wantSess.RefreshHash = nil
		if diff := cmp.Diff([]*foyer.Session{&wantSess}, x.Sessions); diff != "" {
			t.Fatalf("sessions (-want +got):\n%s", diff)
		}
		if len(x.Conversions) != 0 {
			t.Fatalf("conversions = %+v, want none once registered", x.Conversions)
		}
		if diff := cmp.Diff(eventsOf(t, s, u.ID, other.ID), x.Events); diff != "" {
			t.Fatalf("events, with those of the merged account (-want +got):\n%s", diff)
		}
		wantDeliveries := deliveriesOf(t, s, u.ID, other.ID)
		if len(wantDeliveries) == 0 || len(wantDeliveries) != len(x.Events) {
			t.Fatalf("%d deliveries for %d events", len(wantDeliveries), len(x.Events))
		}
		for _, d := range wantDeliveries {
			if d.WebhookID != w.ID {
				t.Fatalf("delivery to %s, want %s", d.WebhookID, w.ID)
			}
		}
		if diff := cmp.Diff(wantDeliveries, x.Deliveries); diff != "" {
			t.Fatalf("deliveries (-want +got):\n%s", diff)
		}
		alias, err := s.Merges.FindAlias(ctx, other.ID)
		ok(t, err)
		if diff := cmp.Diff([]*foyer.Alias{alias}, x.Aliases); diff != "" {
			t.Fatalf("aliases (-want +got):\n%s", diff)
		}
		mail := mailTo(t, s, "ann@example.com")
		slices.Reverse(mail)
		// The reset link, and the notice about the stranger's attempt.
		if len(x.Mail) != len(mail) || len(mail) != 2 || mail[0].Kind != foyer.MailPasswordReset || mail[1].Kind != foyer.MailConversionExisting {
			t.Fatalf("%d messages exported, want the %d to the address (a reset link and a notice)", len(x.Mail), len(mail))
		}
		for i, m := range x.Mail {
			want := *mail[i]
			want.Data = m.Data
			if want.UserID != u.ID {
				want.UserID = ""
			}
			if diff := cmp.Diff(&want, m); diff != "" {
				t.Fatalf("mail %d (-want +got):\n%s", i, diff)
			}
			var d foyer.MailData
			if err := json.Unmarshal(m.Data, &d); err != nil || d.Token != "" {
				t.Fatalf("mail %d data = %s, want no token", i, m.Data)
			}
		}
		if !x.ExportedAt.Equal(c.Now()) {
			t.Fatalf("ExportedAt = %v, want %v", x.ExportedAt, c.Now())
		}

		b, err := json.Marshal(x)
		ok(t, err)
		for _, want := range []string{"export-me", "dark", "ann@example.com", sess.ID, sess.UserAgent, alias.From} {
			if !strings.Contains(string(b), want) {
				t.Errorf("the export lacks %q", want)
			}
		}
		var secrets []string
		secrets = append(secrets, secretForms(convRaw, convHash)...)
		secrets = append(secrets, secretForms(resetRaw, resetHash)...)
		secrets = append(secrets, secretForms(strangerRaw, strangerHash)...)
		secrets = append(secrets, secretForms(passwordHash, sess.RefreshHash)...)
		secrets = append(secrets, w.Secret, stranger.ID, "not-ann")
		wantJSONWithout(t, x, secrets...)
	})

	t.Run("OK/PendingConversion", func(t *testing.T) {
		s, c := setup(t, open)
		u := createAnonymous(t, s, "")
		raw, hash := requestConversion(t, s, c, u.ID, "bob@example.com", time.Hour)
		x, err := s.Exports.ExportUser(t.Context(), u.ID)
		ok(t, err)
		want := []foyer.ExportedConversion{{Email: "bob@example.com", CreatedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour)}}
		if diff := cmp.Diff(want, x.Conversions); diff != "" {
			t.Fatalf("conversions (-want +got):\n%s", diff)
		}
		if x.User.PendingEmail != "bob@example.com" || len(x.Sessions) != 0 || len(x.Aliases) != 0 || len(x.Deliveries) != 0 {
			t.Fatalf("export = %+v", x)
		}
		if diff := cmp.Diff([]string{foyer.EventUserAnonymousCreated, foyer.EventUserConversionRequested}, eventTypes(x.Events)); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
		wantJSONWithout(t, x, secretForms(raw, hash)...)
	})

	// Converting to an address that has an account exports the same as
	// converting to a free one (DESIGN §2.4): the notice to the owner is
	// not the requester's mail, and the link mail to a free address is
	// not shown either, as the address is not proven to be the user's.
	t.Run("OK/RevealsNoAccount", func(t *testing.T) {
		s, c := setup(t, open)
		createRegistered(t, s, "owner@example.com")
		taken := createAnonymous(t, s, "")
		requestConversion(t, s, c, taken.ID, "owner@example.com", time.Hour)
		free := createAnonymous(t, s, "")
		requestConversion(t, s, c, free.ID, "free@example.com", time.Hour)
		xt, err := s.Exports.ExportUser(t.Context(), taken.ID)
		ok(t, err)
		xf, err := s.Exports.ExportUser(t.Context(), free.ID)
		ok(t, err)
		for _, x := range []*foyer.Export{xt, xf} {
			if len(x.Mail) != 0 || len(x.Conversions) != 1 {
				t.Fatalf("export of %s: %d messages, %d conversions; want 0 and 1", x.User.ID, len(x.Mail), len(x.Conversions))
			}
		}
		if diff := cmp.Diff(eventTypes(xf.Events), eventTypes(xt.Events)); diff != "" {
			t.Fatalf("events differ (-free +taken):\n%s", diff)
		}
	})

	for _, nf := range notFoundIDs() {
		t.Run(nf.name, func(t *testing.T) {
			s, _ := setup(t, open)
			createAnonymous(t, s, "")
			_, err := s.Exports.ExportUser(t.Context(), nf.id)
			wantCode(t, err, foyer.ENotFound)
		})
	}

	// After DeleteUser nothing personal is left in any table: only the
	// minimal user.deleted event names the id, and later the delivery of
	// that event.
	t.Run("OK/NothingLeftAfterDelete", func(t *testing.T) {
		s, c := setup(t, open)
		ctx := t.Context()
		w := createWebhook(t, s)
		u := createAnonymous(t, s, `{"favourite":"forget-me"}`)
		convert(t, s, c, u.ID, "gone@example.com")
		sess := createSession(t, s, c, u.ID, time.Hour)
		// An app the person signed in to: its session, a request they
		// completed and one whose code is waiting to be redeemed.
		app := createApp(t, s, "Notes", foyer.AppPublic)
		appSess := createAppSession(t, s, c, u.ID, app.ID, time.Hour)
		done := createAuthRequest(t, s, c, app, time.Hour)
		ok(t, s.AuthRequests.CompleteAuthRequest(ctx, done.ID, u.ID, c.Now()))
		coded := createAuthRequest(t, s, c, app, time.Hour)
		ok(t, s.AuthRequests.CompleteAuthRequest(ctx, coded.ID, u.ID, c.Now()))
		_, code := newToken(t)
		ok(t, s.AuthRequests.SaveAuthCode(ctx, coded.ID, code))
		other := createAnonymous(t, s, `{"theme":"forget-me-too"}`)
		_, err := s.Merges.MergeUsers(ctx, other.ID, u.ID, foyer.MergeRegisteredWins)
		ok(t, err)
		resetRaw, resetHash := newToken(t)
		ok(t, s.Credentials.RequestPasswordReset(ctx, foyer.PasswordResetRequest{
			Email: "gone@example.com", TokenHash: resetHash, Token: resetRaw, ExpiresAt: c.Now().Add(time.Hour)}))
		bystander := createAnonymous(t, s, `{"keep":"me"}`)
		fanOut(t, s)
		claimed, err := s.Deliveries.ClaimDeliveries(ctx, c.Now(), time.Minute, 100)
		ok(t, err)
		for _, cd := range claimed {
			ok(t, s.Deliveries.RecordAttempt(ctx, cd.Delivery.ID, foyer.DeliveryAttempt{
				StatusCode: 200, Response: `{"seen":"` + cd.Event.UserID + `"}`, Status: foyer.DeliverySucceeded}))
		}

		// The search finds the user where it is stored.
		needles := []string{u.ID, other.ID, "gone@example.com", "forget-me", sess.ID, appSess.ID, resetRaw}
		before := s.Mentions(t, needles...)
		for _, table := range []string{"users", "sessions", "events", "deliveries", "aliases", "mail", "password_resets", "auth_requests"} {
			if before[table] == 0 {
				t.Fatalf("before the delete, nothing in %s mentions the user: %v", table, before)
			}
		}

		ok(t, s.Users.DeleteUser(ctx, u.ID, foyer.DeleteReasonSelf))
		_, err = s.Exports.ExportUser(ctx, u.ID)
		wantCode(t, err, foyer.ENotFound)
		if diff := cmp.Diff(map[string]int{"events": 1}, s.Mentions(t, needles...)); diff != "" {
			t.Fatalf("rows mentioning the deleted user, by table (-want +got):\n%s", diff)
		}
		evs := userEvents(t, s, u.ID)
		if len(evs) != 1 || evs[0].Type != foyer.EventUserDeleted {
			t.Fatalf("events of the deleted user = %v, want one user.deleted", eventTypes(evs))
		}
		fanOut(t, s)
		if diff := cmp.Diff(map[string]int{"events": 1, "deliveries": 1}, s.Mentions(t, needles...)); diff != "" {
			t.Fatalf("after the user.deleted event is fanned out (-want +got):\n%s", diff)
		}
		if d := deliveries(t, s, foyer.DeliveryFilter{UserID: &u.ID}); len(d) != 1 || d[0].EventType != foyer.EventUserDeleted || d[0].WebhookID != w.ID {
			t.Fatalf("deliveries about the deleted user = %+v, want the user.deleted one", d)
		}
		// Other people are untouched.
		if got := s.Mentions(t, bystander.ID); got["users"] != 1 || got["events"] == 0 || got["deliveries"] == 0 {
			t.Fatalf("rows mentioning a bystander = %v", got)
		}
		if _, err := s.Exports.ExportUser(ctx, bystander.ID); err != nil {
			t.Fatalf("export of another user: %v", err)
		}
		if _, err := s.Apps.FindApp(ctx, app.ID); err != nil {
			t.Fatalf("the app the user signed in to: %v", err)
		}
	})
}

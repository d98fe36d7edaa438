package http_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/google/go-cmp/cmp"
)

// webhookBody is an endpoint as the API shows it, with the secret when
// the response has one.
type webhookBody struct {
	ID                      string     `json:"id"`
	URL                     string     `json:"url"`
	EventTypes              []string   `json:"event_types"`
	Enabled                 bool       `json:"enabled"`
	Secret                  string     `json:"secret"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

// createWebhook creates an endpoint through the API.
func (ts *testServer) createWebhook(t testing.TB, body string) webhookBody {
	t.Helper()
	w := ts.do("POST", "/v1/webhooks", body, join(ts.api(), jsonType)...)
	check(t, w, http.StatusCreated, "")
	var wh webhookBody
	decode(t, w, &wh)
	if got, want := w.Header().Get("Location"), "/v1/webhooks/"+wh.ID; got != want {
		t.Fatalf("Location = %q, want %q", got, want)
	}
	return wh
}

// noSecret fails if body shows a webhook secret.
func noSecret(t testing.TB, body string, secrets ...string) {
	t.Helper()
	if strings.Contains(body, `"secret"`) || strings.Contains(body, "whsec_") {
		t.Fatalf("body shows a secret: %s", body)
	}
	for _, s := range secrets {
		if strings.Contains(body, s) {
			t.Fatalf("body shows the secret %q: %s", s, body)
		}
	}
}

func TestWebhooks(t *testing.T) {
	ts := setup(t)
	api := join(ts.api(), jsonType)
	missing := "0190c2a4-7e5b-7000-8000-000000000000"

	wh := ts.createWebhook(t, `{"url":"https://hooks.example.com/foyer","event_types":["user.converted","user.deleted","user.converted"]}`)

	t.Run("OKCreateShowsSecretOnce", func(t *testing.T) {
		if !strings.HasPrefix(wh.Secret, "whsec_") || len(wh.Secret) < 40 {
			t.Fatalf("secret = %q, want whsec_ and a key", wh.Secret)
		}
		want := webhookBody{ID: wh.ID, URL: "https://hooks.example.com/foyer", EventTypes: []string{"user.converted", "user.deleted"},
			Enabled: true, Secret: wh.Secret, CreatedAt: ts.clock.Now(), UpdatedAt: ts.clock.Now()}
		if diff := cmp.Diff(want, wh); diff != "" {
			t.Fatalf("created endpoint (-want +got):\n%s", diff)
		}
		stored, err := ts.webhooks.FindWebhookByID(t.Context(), wh.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Secret != wh.Secret {
			t.Fatalf("stored secret %q, shown %q", stored.Secret, wh.Secret)
		}
	})
	t.Run("OKReadsNeverShowSecret", func(t *testing.T) {
		w := ts.do("GET", "/v1/webhooks/"+wh.ID, "", ts.api()...)
		check(t, w, 200, "", wh.ID, `"event_types":["user.converted","user.deleted"]`)
		noSecret(t, w.Body.String(), wh.Secret)
		w = ts.do("GET", "/v1/webhooks", "", ts.api()...)
		check(t, w, 200, "", `"webhooks":[`, wh.ID)
		noSecret(t, w.Body.String(), wh.Secret)
	})
	t.Run("OKAllTypesDisabled", func(t *testing.T) {
		all := ts.createWebhook(t, `{"url":"http://hooks.example.com/all","enabled":false}`)
		if all.Enabled || all.EventTypes == nil || len(all.EventTypes) != 0 {
			t.Fatalf("created %+v, want disabled with event_types []", all)
		}
		if all.Secret == wh.Secret {
			t.Fatal("two endpoints share a secret")
		}
	})

	ts.run(t, []scenario{
		{"ErrLoopback", "POST", "/v1/webhooks", api, `{"url":"http://127.0.0.1:9000/hook"}`, 400, "invalid", []string{"public address"}},
		{"ErrLocalhost", "POST", "/v1/webhooks", api, `{"url":"https://localhost/hook"}`, 400, "invalid", nil},
		{"ErrPrivate", "POST", "/v1/webhooks", api, `{"url":"http://[fd00::1]/hook"}`, 400, "invalid", nil},
		{"ErrScheme", "POST", "/v1/webhooks", api, `{"url":"ftp://hooks.example.com/"}`, 400, "invalid", nil},
		{"ErrNoURL", "POST", "/v1/webhooks", api, `{"event_types":["user.created"]}`, 400, "invalid", []string{"url"}},
		{"ErrUnknownEventType", "POST", "/v1/webhooks", api, `{"url":"https://hooks.example.com/","event_types":["user.exploded"]}`, 400, "invalid", []string{"user.exploded"}},
		{"ErrSecretNotWritable", "POST", "/v1/webhooks", api, `{"url":"https://hooks.example.com/","secret":"whsec_mine"}`, 400, "malformed_json", nil},
		{"ErrPatchLoopback", "PATCH", "/v1/webhooks/" + wh.ID, api, `{"url":"http://[::1]/hook"}`, 400, "invalid", nil},
		{"ErrPatchUnknownEventType", "PATCH", "/v1/webhooks/" + wh.ID, api, `{"event_types":["user.exploded"]}`, 400, "invalid", nil},
		{"ErrGetNotFound", "GET", "/v1/webhooks/" + missing, ts.api(), "", 404, "not_found", nil},
		{"ErrGetNotUUID", "GET", "/v1/webhooks/nope", ts.api(), "", 404, "not_found", nil},
		{"ErrPatchNotFound", "PATCH", "/v1/webhooks/" + missing, api, `{"enabled":true}`, 404, "not_found", nil},
		{"ErrDeleteNotFound", "DELETE", "/v1/webhooks/" + missing, ts.api(), "", 404, "not_found", nil},
		{"ErrRotateNotFound", "POST", "/v1/webhooks/" + missing + "/rotate-secret", ts.api(), "", 404, "not_found", nil},
		{"ErrUnauthorized", "GET", "/v1/webhooks", nil, "", 401, "unauthorized", nil},
		{"ErrVisitorToken", "GET", "/v1/webhooks", bearer(ts.signup(t).Token), "", 401, "unauthorized", nil},
	})

	t.Run("OKPatch", func(t *testing.T) {
		ts.clock.Advance(time.Minute)
		w := ts.do("PATCH", "/v1/webhooks/"+wh.ID, `{"url":"https://hooks.example.com/v2","event_types":[],"enabled":false}`, api...)
		check(t, w, 200, "")
		noSecret(t, w.Body.String(), wh.Secret)
		var got webhookBody
		decode(t, w, &got)
		want := webhookBody{ID: wh.ID, URL: "https://hooks.example.com/v2", EventTypes: []string{}, Enabled: false,
			CreatedAt: wh.CreatedAt, UpdatedAt: ts.clock.Now()}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("patched endpoint (-want +got):\n%s", diff)
		}
		// Absent members are left alone.
		w = ts.do("PATCH", "/v1/webhooks/"+wh.ID, `{"enabled":true}`, api...)
		check(t, w, 200, "", `"url":"https://hooks.example.com/v2"`, `"enabled":true`, `"event_types":[]`)
	})

	t.Run("OKRotateKeepsOldSecretFor24h", func(t *testing.T) {
		before, err := ts.webhooks.FindWebhookByID(t.Context(), wh.ID)
		if err != nil {
			t.Fatal(err)
		}
		w := ts.do("POST", "/v1/webhooks/"+wh.ID+"/rotate-secret", "", ts.api()...)
		check(t, w, 200, "")
		var rotated webhookBody
		decode(t, w, &rotated)
		until := ts.clock.Now().Add(foyerhttp.WebhookSecretOverlap)
		if !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == before.Secret {
			t.Fatalf("rotated secret %q, before %q", rotated.Secret, before.Secret)
		}
		if rotated.PreviousSecretExpiresAt == nil || !rotated.PreviousSecretExpiresAt.Equal(until) {
			t.Fatalf("previous_secret_expires_at = %v, want %v", rotated.PreviousSecretExpiresAt, until)
		}
		if foyerhttp.WebhookSecretOverlap != 24*time.Hour {
			t.Fatalf("WebhookSecretOverlap = %v, want 24h", foyerhttp.WebhookSecretOverlap)
		}
		stored, err := ts.webhooks.FindWebhookByID(t.Context(), wh.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Secret != rotated.Secret || stored.PreviousSecret != before.Secret ||
			stored.PreviousSecretExpiresAt == nil || !stored.PreviousSecretExpiresAt.Equal(until) {
			t.Fatalf("stored secret %q, previous %q until %v; want %q, %q until %v",
				stored.Secret, stored.PreviousSecret, stored.PreviousSecretExpiresAt, rotated.Secret, before.Secret, until)
		}
		w = ts.do("GET", "/v1/webhooks/"+wh.ID, "", ts.api()...)
		check(t, w, 200, "", `"previous_secret_expires_at"`)
		noSecret(t, w.Body.String(), rotated.Secret, before.Secret)
	})

	t.Run("OKDelete", func(t *testing.T) {
		check(t, ts.do("DELETE", "/v1/webhooks/"+wh.ID, "", ts.api()...), 204, "")
		check(t, ts.do("GET", "/v1/webhooks/"+wh.ID, "", ts.api()...), 404, "not_found")
		check(t, ts.do("DELETE", "/v1/webhooks/"+wh.ID, "", ts.api()...), 404, "not_found")
	})
}

// deliveryBody is a delivery as the API shows it.
type deliveryBody struct {
	ID             string `json:"id"`
	WebhookID      string `json:"webhook_id"`
	EventID        string `json:"event_id"`
	EventType      string `json:"event_type"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	LastStatusCode int    `json:"last_status_code"`
	LastResponse   string `json:"last_response"`
}

// listDeliveries reads one page of GET /v1/deliveries?query.
func (ts *testServer) listDeliveries(t testing.TB, query string) ([]deliveryBody, string) {
	t.Helper()
	w := ts.do("GET", "/v1/deliveries?"+query, "", ts.api()...)
	check(t, w, 200, "")
	var p struct {
		Deliveries []deliveryBody `json:"deliveries"`
		NextCursor string         `json:"next_cursor"`
	}
	decode(t, w, &p)
	if p.Deliveries == nil {
		t.Fatalf("deliveries is not a list: %s", w.Body)
	}
	return p.Deliveries, p.NextCursor
}

func TestDeliveries(t *testing.T) {
	ts := setup(t)
	ctx := t.Context()
	wh := ts.createWebhook(t, `{"url":"https://hooks.example.com/foyer","event_types":["user.anonymous.created","user.updated"]}`)
	other := ts.createWebhook(t, `{"url":"https://hooks.example.com/deleted","event_types":["user.deleted"]}`)

	// A visitor signs up and changes their data: two events the endpoint
	// wants, which the dispatcher's first step turns into deliveries.
	v := ts.signup(t)
	check(t, ts.do("PATCH", "/v1/me", `{"data":{"theme":"dark"}}`, join(bearer(v.Token), mergePatchType)...), 200, "")
	if _, err := ts.deliveries.FanOutEvents(ctx, 100); err != nil {
		t.Fatal(err)
	}

	all, next := ts.listDeliveries(t, "")
	if next != "" {
		t.Fatalf("next_cursor %q on the only page", next)
	}
	var got []deliveryBody
	for _, d := range all {
		got = append(got, deliveryBody{WebhookID: d.WebhookID, EventType: d.EventType, UserID: d.UserID, Status: d.Status})
	}
	// Newest first.
	want := []deliveryBody{
		{WebhookID: wh.ID, EventType: foyer.EventUserUpdated, UserID: v.User.ID, Status: foyer.DeliveryPending},
		{WebhookID: wh.ID, EventType: foyer.EventUserAnonymousCreated, UserID: v.User.ID, Status: foyer.DeliveryPending},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("deliveries (-want +got):\n%s", diff)
	}
	updated, created := all[0], all[1]

	t.Run("OKFilters", func(t *testing.T) {
		count := func(query string) int {
			t.Helper()
			ds, _ := ts.listDeliveries(t, query)
			return len(ds)
		}
		for query, want := range map[string]int{
			"webhook_id=" + wh.ID:                     2,
			"webhook_id=" + other.ID:                  0,
			"user_id=" + v.User.ID:                    2,
			"event_id=" + created.EventID:             1,
			"status=pending":                          2,
			"status=succeeded":                        0,
			"webhook_id=not-an-id":                    0,
			"user_id=" + v.User.ID + "&status=failed": 0,
		} {
			if got := count(query); got != want {
				t.Errorf("%s: %d deliveries, want %d", query, got, want)
			}
		}
	})
	t.Run("OKPages", func(t *testing.T) {
		first, next := ts.listDeliveries(t, "limit=1")
		if len(first) != 1 || first[0].ID != updated.ID || next == "" {
			t.Fatalf("first page %+v, next %q", first, next)
		}
		second, next := ts.listDeliveries(t, "limit=1&cursor="+next)
		if len(second) != 1 || second[0].ID != created.ID || next != "" {
			t.Fatalf("second page %+v, next %q", second, next)
		}
	})

	api := ts.api()
	ts.run(t, []scenario{
		{"ErrBadStatus", "GET", "/v1/deliveries?status=lost", api, "", 400, "invalid", nil},
		{"ErrUnknownParameter", "GET", "/v1/deliveries?webhook=" + wh.ID, api, "", 400, "invalid", nil},
		{"ErrBadCursor", "GET", "/v1/deliveries?cursor=x", api, "", 400, "invalid", nil},
		{"ErrRedeliverNotFound", "POST", "/v1/deliveries/0190c2a4-7e5b-7000-8000-000000000000/redeliver", api, "", 404, "not_found", nil},
		{"ErrRedeliverNotUUID", "POST", "/v1/deliveries/nope/redeliver", api, "", 404, "not_found", nil},
		{"ErrUnauthorized", "GET", "/v1/deliveries", nil, "", 401, "unauthorized", nil},
	})

	t.Run("OKRedeliver", func(t *testing.T) {
		// The receiver failed and Foyer gave up on the delivery.
		if err := ts.deliveries.RecordAttempt(ctx, created.ID, foyer.DeliveryAttempt{
			StatusCode: 500, Latency: 30 * time.Millisecond, Response: "oops", Status: foyer.DeliveryFailed,
		}); err != nil {
			t.Fatal(err)
		}
		failed, _ := ts.listDeliveries(t, "status=failed")
		if len(failed) != 1 || failed[0].ID != created.ID || failed[0].LastStatusCode != 500 {
			t.Fatalf("failed deliveries %+v", failed)
		}
		before := ts.webhookNotified.Load()
		w := ts.do("POST", "/v1/deliveries/"+created.ID+"/redeliver", "", ts.api()...)
		check(t, w, http.StatusAccepted, "")
		var d deliveryBody
		decode(t, w, &d)
		if d.ID != created.ID || d.Status != foyer.DeliveryPending || d.EventID != created.EventID {
			t.Fatalf("redelivered %+v, want %s pending", d, created.ID)
		}
		if ts.webhookNotified.Load() != before+1 {
			t.Fatal("the dispatcher was not woken")
		}
		// It is due now: the dispatcher's next claim takes it, with the
		// same id (the webhook-id header).
		claimed, err := ts.deliveries.ClaimDeliveries(ctx, ts.clock.Now(), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, cd := range claimed {
			found = found || cd.Delivery.ID == created.ID
		}
		if !found {
			t.Fatalf("the redelivered delivery is not claimed: %d claimed", len(claimed))
		}
	})
}

// TestWebhooksNeedURLCheck checks that a server with webhooks but no URL
// check refuses to start, rather than accept any endpoint.
func TestWebhooksNeedURLCheck(t *testing.T) {
	ts := setup(t)
	defer func() {
		if recover() == nil {
			t.Fatal("NewServer accepted Webhooks without ValidateWebhookURL")
		}
	}()
	foyerhttp.NewServer(foyerhttp.Config{}, foyerhttp.Deps{Users: ts.users, Events: ts.events, Keys: ts.keys, Webhooks: ts.webhooks}, nil, nil)
}

// TestOptionalRoutes checks that the routes of optional services are not
// served without them.
func TestOptionalRoutes(t *testing.T) {
	ts := setup(t)
	h := foyerhttp.NewServer(foyerhttp.Config{}, foyerhttp.Deps{Users: ts.users, Events: ts.events, Keys: ts.keys}, nil, nil).Handler()
	for _, path := range []string{"/v1/webhooks", "/v1/deliveries", "/v1/audit", "/v1/me/export", "/v1/users/" + ts.signup(t).User.ID + "/export"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, request("GET", path, ""))
		check(t, w, http.StatusNotFound, "not_found")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request("POST", "/v1/reaper/runs", `{"dry_run":true}`, jsonType...))
	check(t, w, http.StatusNotFound, "not_found")
}

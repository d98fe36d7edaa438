package http_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// auditEntry is an audit entry as the API shows it.
type auditEntry struct {
	ID        string          `json:"id"`
	Actor     string          `json:"actor"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	Status    int             `json:"status"`
	IP        string          `json:"ip"`
	Details   json.RawMessage `json:"details"`
	CreatedAt time.Time       `json:"created_at"`
}

// listAudit reads one page of GET /v1/audit?query.
func (ts *testServer) listAudit(t testing.TB, query string) ([]auditEntry, string) {
	t.Helper()
	w := ts.do("GET", "/v1/audit?"+query, "", ts.api()...)
	check(t, w, http.StatusOK, "")
	var p struct {
		Entries    []auditEntry `json:"entries"`
		NextCursor string       `json:"next_cursor"`
	}
	decode(t, w, &p)
	if p.Entries == nil {
		t.Fatalf("entries is not a list: %s", w.Body)
	}
	return p.Entries, p.NextCursor
}

// ignoreAuditID leaves out what the store assigns.
var ignoreAuditID = cmpopts.IgnoreFields(auditEntry{}, "ID", "Details")

func TestAudit(t *testing.T) {
	ts := setup(t)
	api := ts.api()
	actor := "api_key:" + ts.apiKeyID
	missing := "0190c2a4-7e5b-7000-8000-000000000000"
	now := ts.clock.Now()

	// A visitor's own calls are not server API calls.
	v := ts.signup(t)
	check(t, ts.do("GET", "/v1/me", "", bearer(v.Token)...), 200, "")

	// Server API calls: writes, reads, failures.
	w := ts.do("POST", "/v1/users", `{"anonymous":true}`, join(api, jsonType)...)
	check(t, w, http.StatusCreated, "")
	var u userDoc
	decode(t, w, &u)
	requestID := w.Header().Get("X-Request-Id")
	check(t, ts.do("GET", "/v1/users/"+u.ID, "", api...), 200, "")
	check(t, ts.do("GET", "/v1/users/"+missing, "", api...), 404, "not_found")
	check(t, ts.do("GET", "/v1/users/"+u.ID+"/export", "", api...), 200, "")
	check(t, ts.do("DELETE", "/v1/users/"+u.ID, "", api...), 204, "")
	check(t, ts.do("POST", "/v1/webhooks", `{"url":"http://127.0.0.1/"}`, join(api, jsonType)...), 400, "invalid")
	check(t, ts.do("GET", "/v1/users?limit=0", "", api...), 400, "invalid")
	// Calls without a valid key acted as nobody: they are not recorded.
	check(t, ts.do("GET", "/v1/users", "", bearer("foyer_sk_unknown")...), 401, "unauthorized")
	check(t, ts.do("GET", "/v1/users", "", bearer(v.Token)...), 401, "unauthorized")

	entries, next := ts.listAudit(t, "")
	if next != "" {
		t.Errorf("next_cursor %q on the only page", next)
	}
	ip := "192.0.2.1" // httptest's client
	// Newest first.
	want := []auditEntry{
		{Actor: actor, Action: "GET /v1/users", Status: 400, IP: ip, CreatedAt: now},
		{Actor: actor, Action: "POST /v1/webhooks", Status: 400, IP: ip, CreatedAt: now},
		{Actor: actor, Action: "DELETE /v1/users/{id}", Target: u.ID, Status: 204, IP: ip, CreatedAt: now},
		{Actor: actor, Action: "GET /v1/users/{id}/export", Target: u.ID, Status: 200, IP: ip, CreatedAt: now},
		{Actor: actor, Action: "GET /v1/users/{id}", Target: missing, Status: 404, IP: ip, CreatedAt: now},
		{Actor: actor, Action: "GET /v1/users/{id}", Target: u.ID, Status: 200, IP: ip, CreatedAt: now},
		{Actor: actor, Action: "POST /v1/users", Status: 201, IP: ip, CreatedAt: now},
	}
	if diff := cmp.Diff(want, entries, ignoreAuditID); diff != "" {
		t.Fatalf("audit log (-want +got):\n%s", diff)
	}

	t.Run("OKRequestID", func(t *testing.T) {
		last := entries[len(entries)-1]
		var d struct {
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(last.Details, &d); err != nil || d.RequestID != requestID || requestID == "" {
			t.Fatalf("details %s, want the request id %q", last.Details, requestID)
		}
	})
	t.Run("OKReadsOfTheLogAreRecorded", func(t *testing.T) {
		got, _ := ts.listAudit(t, "limit=1")
		want := []auditEntry{{Actor: actor, Action: "GET /v1/audit", Status: 200, IP: ip, CreatedAt: now}}
		if diff := cmp.Diff(want, got, ignoreAuditID); diff != "" {
			t.Fatalf("newest entry (-want +got):\n%s", diff)
		}
	})
	t.Run("OKFilterTarget", func(t *testing.T) {
		got, _ := ts.listAudit(t, "target="+u.ID)
		var actions []string
		for _, e := range got {
			actions = append(actions, e.Action)
		}
		want := []string{"DELETE /v1/users/{id}", "GET /v1/users/{id}/export", "GET /v1/users/{id}"}
		if diff := cmp.Diff(want, actions); diff != "" {
			t.Fatalf("actions on %s (-want +got):\n%s", u.ID, diff)
		}
	})
	t.Run("OKFilterActor", func(t *testing.T) {
		w := ts.do("POST", "/v1/api-keys", `{"name":"other"}`, join(api, jsonType)...)
		check(t, w, http.StatusCreated, "")
		var key struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		}
		decode(t, w, &key)
		check(t, ts.do("GET", "/v1/webhooks/"+missing, "", bearer(key.Secret)...), 404, "not_found")
		got, _ := ts.listAudit(t, "actor=api_key:"+key.ID)
		want := []auditEntry{{Actor: "api_key:" + key.ID, Action: "GET /v1/webhooks/{id}", Target: missing, Status: 404, IP: ip, CreatedAt: now}}
		if diff := cmp.Diff(want, got, ignoreAuditID); diff != "" {
			t.Fatalf("entries of the other key (-want +got):\n%s", diff)
		}
	})
	t.Run("OKFilterSince", func(t *testing.T) {
		ts.clock.Advance(time.Hour)
		check(t, ts.do("GET", "/v1/keys", "", api...), 200, "")
		got, _ := ts.listAudit(t, "since="+now.Add(time.Minute).Format(time.RFC3339))
		if len(got) != 1 || got[0].Action != "GET /v1/keys" {
			t.Fatalf("entries since a minute later: %+v", got)
		}
	})
	t.Run("OKPages", func(t *testing.T) {
		all, _ := ts.listAudit(t, "limit=500&actor="+actor)
		var got []auditEntry
		query := "limit=2&actor=" + actor
		for range len(all) + 1 {
			page, next := ts.listAudit(t, query)
			got = append(got, page...)
			if next == "" {
				break
			}
			query = "limit=2&actor=" + actor + "&cursor=" + next
		}
		// The pages hold the read of all, recorded after it, then all.
		if len(got) != len(all)+1 || got[0].Action != "GET /v1/audit" {
			t.Fatalf("paged %d entries starting with %+v, want %d starting with the read of the log", len(got), got[0], len(all)+1)
		}
		if diff := cmp.Diff(all, got[1:]); diff != "" {
			t.Fatalf("paged entries (-one page +pages):\n%s", diff)
		}
	})

	ts.run(t, []scenario{
		{"ErrBadSince", "GET", "/v1/audit?since=yesterday", api, "", 400, "invalid", nil},
		{"ErrBadLimit", "GET", "/v1/audit?limit=501", api, "", 400, "invalid", nil},
		{"ErrUnknownParameter", "GET", "/v1/audit?action=x", api, "", 400, "invalid", nil},
		{"ErrUnauthorized", "GET", "/v1/audit", nil, "", 401, "unauthorized", nil},
	})
}

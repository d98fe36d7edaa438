package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	foyerclient "github.com/foyerhq/foyer/client"
)

// receiver is an app's webhook endpoint: it verifies every delivery with
// the SDK and keeps the ones it accepted.
type receiver struct {
	srv *httptest.Server

	mu     sync.Mutex
	secret string
	// failing makes it answer 500 to every delivery, as an app that is
	// down would.
	failing bool
	// attempts counts the requests per webhook-id.
	attempts map[string]int
	// accepted are the deliveries answered with 2xx, in order.
	accepted []receivedDelivery
	// refused are the requests whose signature did not verify.
	refused []string
}

// receivedDelivery is a delivery the receiver accepted.
type receivedDelivery struct {
	WebhookID string
	Type      string
	UserID    string
	// Latency is from the event, written with the change, to its arrival.
	Latency time.Duration
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{attempts: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serveHTTP))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := foyerclient.VerifyWebhook(rc.secret, r.Header, body, 0); err != nil {
		rc.refused = append(rc.refused, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	id := r.Header.Get("webhook-id")
	rc.attempts[id]++
	if rc.failing {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var p struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		rc.refused = append(rc.refused, "body: "+err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.accepted = append(rc.accepted, receivedDelivery{WebhookID: id, Type: p.Type, UserID: p.Data.User.ID, Latency: time.Since(p.Timestamp)})
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) setSecret(s string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secret = s
}

func (rc *receiver) setFailing(f bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.failing = f
}

// acceptedFor returns the accepted deliveries about user id.
func (rc *receiver) acceptedFor(id string) []receivedDelivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []receivedDelivery
	for _, d := range rc.accepted {
		if d.UserID == id {
			out = append(out, d)
		}
	}
	return out
}

// check verifies what the receiver saw: every request was signed, each
// user's user.converted event came under one webhook-id only (a repeat is
// a redelivery of the same delivery, never a new one), and every accepted
// delivery is a user.converted.
func (rc *receiver) check(t *testing.T) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.refused) > 0 {
		t.Fatalf("the receiver refused deliveries: %q", rc.refused)
	}
	ids := map[string]string{}
	for _, d := range rc.accepted {
		if d.Type != "user.converted" {
			t.Errorf("delivery %s of type %q, want only user.converted", d.WebhookID, d.Type)
		}
		if prev, ok := ids[d.UserID]; ok && prev != d.WebhookID {
			t.Errorf("user %s's conversion came as deliveries %s and %s, want one webhook-id", d.UserID, prev, d.WebhookID)
		}
		ids[d.UserID] = d.WebhookID
	}
}

// deliveryDoc is a delivery as GET /v1/deliveries lists it.
type deliveryDoc struct {
	ID             string `json:"id"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	LastStatusCode int    `json:"last_status_code"`
}

func listDeliveries(t *testing.T, base, apiKey, query string) []deliveryDoc {
	t.Helper()
	var page struct {
		Deliveries []deliveryDoc `json:"deliveries"`
	}
	newClient(t, base).do("GET", "/v1/deliveries?"+query, "", "", apiKey, http.StatusOK, &page)
	return page.Deliveries
}

// convertByAPI creates an anonymous user and converts it on the server
// API, the calling server vouching for the address, and returns its id.
func convertByAPI(t *testing.T, base, apiKey string) string {
	t.Helper()
	admin := newClient(t, base)
	var u userDoc
	admin.do("POST", "/v1/users", "application/json", `{"anonymous":true,"data":{"level":1}}`, apiKey, http.StatusCreated, &u)
	admin.do("POST", "/v1/users/"+u.ID+"/convert", "application/json", `{"email":"player-`+randomHex(4)+`@example.com","verified":true}`, apiKey, http.StatusOK, nil)
	return u.ID
}

// kill stops the process with SIGKILL, as a crash would.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.stopped = true
	<-p.done
}

// testWebhooks subscribes a receiver to user.converted, checks that a
// conversion reaches it signed, then crashes the server while deliveries
// are waiting for a retry and checks that they complete after a restart.
func testWebhooks(t *testing.T, env ...string) {
	bin := foyerBinary(t)
	key := "foyer_sk_" + randomHex(24)
	env = append(env, "FOYER_DATA_DIR="+filepath.Join(t.TempDir(), "data"), "FOYER_LOG_LEVEL=info",
		"FOYER_LISTEN="+freePort(t), "FOYER_ADMIN_API_KEY="+key, "FOYER_WEBHOOK_ALLOW_PRIVATE=true")
	rc := newReceiver(t)
	p := startFoyer(t, bin, env...)
	admin := newClient(t, p.url)

	var wh struct {
		ID         string   `json:"id"`
		URL        string   `json:"url"`
		EventTypes []string `json:"event_types"`
		Secret     string   `json:"secret"`
	}
	admin.do("POST", "/v1/webhooks", "application/json", `{"url":"`+rc.srv.URL+`","event_types":["user.converted"]}`, key, http.StatusCreated, &wh)
	if wh.URL != rc.srv.URL || len(wh.Secret) < len("whsec_")+32 {
		t.Fatalf("POST /v1/webhooks = %+v, want the endpoint with its secret", wh)
	}
	rc.setSecret(wh.Secret)

	// A visitor saves their progress: the app hears of it, signed.
	visitor, id := walkthrough(t, p.url, key)
	register(t, p.url, key, visitor, "kim-"+randomHex(4)+"@example.com", "a long enough password")
	waitFor(t, "the delivery of user.converted", func() bool { return len(rc.acceptedFor(id)) > 0 })
	t.Logf("user.converted reached the receiver %s after the conversion", rc.acceptedFor(id)[0].Latency)

	// The app goes down; three more conversions fail their first attempt.
	rc.setFailing(true)
	var ids []string
	for range 3 {
		ids = append(ids, convertByAPI(t, p.url, key))
	}
	waitFor(t, "a failed first attempt at every delivery", func() bool {
		n := 0
		for _, d := range listDeliveries(t, p.url, key, "webhook_id="+wh.ID+"&status=pending") {
			if d.Attempts >= 1 && d.LastStatusCode == http.StatusInternalServerError {
				n++
			}
		}
		return n == len(ids)
	})

	// Foyer crashes while they wait for their retry, the app comes back,
	// Foyer restarts on the same data: every delivery completes.
	p.kill(t)
	rc.setFailing(false)
	p2 := startFoyer(t, bin, env...)
	for _, id := range ids {
		waitFor(t, "the delivery about "+id+" after the restart", func() bool { return len(rc.acceptedFor(id)) > 0 })
	}
	rc.check(t)
	// The receiver has the requests; Foyer records each success right
	// after the answer reaches it.
	waitFor(t, "every delivery recorded as succeeded", func() bool {
		for _, d := range listDeliveries(t, p2.url, key, "webhook_id="+wh.ID) {
			if d.Status != "succeeded" {
				return false
			}
		}
		return true
	})
	done := listDeliveries(t, p2.url, key, "webhook_id="+wh.ID)
	if len(done) != len(ids)+1 {
		t.Fatalf("GET /v1/deliveries lists %d deliveries, want %d: %+v", len(done), len(ids)+1, done)
	}
	for _, d := range done {
		if d.Status != "succeeded" {
			t.Errorf("delivery %s about %s is %s, want succeeded", d.ID, d.UserID, d.Status)
		}
	}
	p2.stop(t)
}

func TestWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		testWebhooks(t)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		dsn := freshSchema(t, postgresDSN(t))
		testWebhooks(t, "FOYER_DATABASE_URL="+dsn)
	})
	t.Run("ErrPrivateAddress", func(t *testing.T) {
		// Without --webhook-allow-private an endpoint on this machine is
		// refused.
		t.Parallel()
		key := "foyer_sk_" + randomHex(24)
		p := startFoyer(t, foyerBinary(t), "FOYER_DATA_DIR="+t.TempDir(), "FOYER_LOG_LEVEL=info", "FOYER_LISTEN="+freePort(t), "FOYER_ADMIN_API_KEY="+key)
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		newClient(t, p.url).do("POST", "/v1/webhooks", "application/json", `{"url":"http://127.0.0.1:9/hook"}`, key, http.StatusBadRequest, &e)
		if e.Error.Code != "invalid" {
			t.Fatalf("POST /v1/webhooks on a loopback URL: code %q, want invalid", e.Error.Code)
		}
		p.stop(t)
	})
}

package admin_test

import (
	"crypto/sha256"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/admin"
	"github.com/google/go-cmp/cmp"
)

func TestAPIKeys(t *testing.T) {
	c := setup(t)
	cl := c.signedIn(t)
	ctx := t.Context()
	mustContain(t, cl.get("/admin/api-keys", http.StatusOK).Body, "No API keys.")

	var created *foyer.APIKey
	t.Run("OKCreate", func(t *testing.T) {
		r := cl.post("/admin/api-keys", "/admin/api-keys", url.Values{"name": {"  Billing app "}}, http.StatusCreated)
		m := regexp.MustCompile(`id="secret" class="mono" readonly value="(foyer_sk_[A-Za-z0-9_-]+)"`).FindStringSubmatch(r.Body)
		if m == nil {
			t.Fatalf("no secret shown:\n%s", r.Body)
		}
		sum := sha256.Sum256([]byte(m[1]))
		k, err := c.apiKeys.FindAPIKeyByHash(ctx, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		if k.Name != "Billing app" {
			t.Fatalf("name %q", k.Name)
		}
		created = k
		// The secret is shown once: the list never shows it again.
		mustNotContain(t, cl.get("/admin/api-keys", http.StatusOK).Body, m[1])
	})
	t.Run("ErrName", func(t *testing.T) {
		r := cl.post("/admin/api-keys", "/admin/api-keys", url.Values{"name": {strings.Repeat("x", 101)}}, http.StatusUnprocessableEntity)
		mustContain(t, r.Body, `id="name-error"`)
	})
	t.Run("OKRevoke", func(t *testing.T) {
		cl.post("/admin/api-keys", "/admin/api-keys/"+created.ID+"/revoke", nil, http.StatusSeeOther)
		if keys, _ := c.apiKeys.FindAPIKeys(ctx); len(keys) != 0 {
			t.Fatalf("%d keys left", len(keys))
		}
		cl.post("/admin/api-keys", "/admin/api-keys/"+created.ID+"/revoke", nil, http.StatusNotFound)
	})
	want := []string{"api_key.create 201", "api_key.revoke 303", "api_key.revoke 404"}
	if diff := cmp.Diff(want, c.auditActions(t, created.ID)); diff != "" {
		t.Fatalf("audit (-want +got):\n%s", diff)
	}
}

func TestSigningKeys(t *testing.T) {
	c := setup(t)
	cl := c.signedIn(t)
	if err := c.rotateKey(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := c.listKeys()[0]
	mustContain(t, cl.get("/admin/keys", http.StatusOK).Body, first.ID, "<strong>signing</strong>")
	cl.post("/admin/keys", "/admin/keys/rotate", nil, http.StatusSeeOther)
	keys := c.listKeys()
	if len(keys) != 2 || keys[1].ID != first.ID || keys[1].RetiredAt == nil {
		t.Fatalf("keys after rotation: %+v", keys)
	}
	body := cl.get("/admin/keys?notice=keys-rotated", http.StatusOK).Body
	mustContain(t, body, keys[0].ID, first.ID, "A new signing key signs from now on.")
}

func TestWebhooks(t *testing.T) {
	c := setup(t)
	cl := c.signedIn(t)
	ctx := t.Context()
	mustContain(t, cl.get("/admin/webhooks", http.StatusOK).Body, "No webhook endpoints.")
	wh := &foyer.Webhook{URL: "https://hooks.example/foyer", Enabled: true, Secret: "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ="}
	if err := c.webhooks.CreateWebhook(ctx, wh); err != nil {
		t.Fatal(err)
	}
	c.anonymous(t, `{}`)
	c.anonymous(t, `{}`)
	if _, err := c.deliveries.FanOutEvents(ctx, 10); err != nil {
		t.Fatal(err)
	}
	ds, err := c.deliveries.FindDeliveries(ctx, foyer.DeliveryFilter{WebhookID: &wh.ID})
	if err != nil || len(ds) != 2 {
		t.Fatalf("deliveries %v, %v", ds, err)
	}
	if err := c.deliveries.RecordAttempt(ctx, ds[0].ID, foyer.DeliveryAttempt{StatusCode: 500, Response: "upstream broke", Status: foyer.DeliveryFailed}); err != nil {
		t.Fatal(err)
	}

	page := "/admin/webhooks/" + wh.ID
	t.Run("OK", func(t *testing.T) {
		mustContain(t, cl.get("/admin/webhooks", http.StatusOK).Body, "https://hooks.example/foyer", page)
		body := cl.get(page, http.StatusOK).Body
		mustContain(t, body, ds[0].ID, ds[1].ID, "HTTP 500", "upstream broke", foyer.EventUserAnonymousCreated)
	})
	t.Run("OKStatusFilter", func(t *testing.T) {
		body := cl.get(page+"?status=failed", http.StatusOK).Body
		mustContain(t, body, ds[0].ID)
		mustNotContain(t, body, ds[1].ID)
	})
	t.Run("OKRedeliver", func(t *testing.T) {
		r := cl.post(page, "/admin/deliveries/"+ds[0].ID+"/redeliver", nil, http.StatusSeeOther)
		if r.Location() != page+"?notice=redelivered" {
			t.Fatalf("redirect to %q", r.Location())
		}
		pending := foyer.DeliveryPending
		got, _ := c.deliveries.FindDeliveries(ctx, foyer.DeliveryFilter{WebhookID: &wh.ID, Status: &pending})
		if len(got) != 2 {
			t.Fatalf("%d pending deliveries, want 2", len(got))
		}
	})
	t.Run("OKDisable", func(t *testing.T) {
		cl.post(page, page+"/enabled", url.Values{"enabled": {"false"}}, http.StatusSeeOther)
		got, _ := c.webhooks.FindWebhookByID(ctx, wh.ID)
		if got.Enabled {
			t.Fatal("still enabled")
		}
		mustContain(t, cl.get(page, http.StatusOK).Body, ">Enable</button>")
		cl.post(page, page+"/enabled", url.Values{"enabled": {"true"}}, http.StatusSeeOther)
		if got, _ := c.webhooks.FindWebhookByID(ctx, wh.ID); !got.Enabled {
			t.Fatal("not enabled again")
		}
	})
	if diff := cmp.Diff([]string{"delivery.redeliver 303"}, c.auditActions(t, ds[0].ID)); diff != "" {
		t.Fatalf("audit (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"webhook.disable 303", "webhook.enable 303"}, c.auditActions(t, wh.ID)); diff != "" {
		t.Fatalf("audit (-want +got):\n%s", diff)
	}
}

func TestReaper(t *testing.T) {
	c := setup(t)
	stale := c.anonymous(t, `{}`)
	c.clock.Advance(40 * 24 * time.Hour)
	fresh := c.anonymous(t, `{}`)
	cl := c.signedIn(t)

	r := cl.post("/admin/reaper", "/admin/reaper", url.Values{"dry_run": {"true"}}, http.StatusOK)
	mustContain(t, r.Body, "A run now would delete 1 accounts")
	if _, err := c.users.FindUserByID(t.Context(), stale.ID); err != nil {
		t.Fatal("a dry run deleted")
	}
	r = cl.post("/admin/reaper", "/admin/reaper", url.Values{"dry_run": {"false"}}, http.StatusOK)
	mustContain(t, r.Body, "Deleted 1 accounts")
	if _, err := c.users.FindUserByID(t.Context(), stale.ID); foyer.ErrorCode(err) != foyer.ENotFound {
		t.Fatalf("stale user: %v", err)
	}
	if _, err := c.users.FindUserByID(t.Context(), fresh.ID); err != nil {
		t.Fatal(err)
	}
	entries, _ := c.audit.FindAuditEntries(t.Context(), foyer.AuditFilter{Limit: 2})
	if len(entries) != 2 || entries[0].Action != "reaper.run" || entries[1].Action != "reaper.dry_run" {
		t.Fatalf("audit %+v", entries)
	}
}

func TestAuditLog(t *testing.T) {
	c := setup(t)
	cl := c.signedIn(t)
	u := c.anonymous(t, `{}`)
	cl.post("/admin/users/"+u.ID, "/admin/users/"+u.ID+"/revoke", nil, http.StatusSeeOther)
	body := cl.get("/admin/audit", http.StatusOK).Body
	mustContain(t, body, "user.revoke_tokens", "admin.login", u.ID)
	body = cl.get("/admin/audit?target="+u.ID, http.StatusOK).Body
	mustContain(t, body, "user.revoke_tokens")
	mustNotContain(t, body, "admin.login")
}

func TestMailbox(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		c := setup(t)
		cl := c.signedIn(t)
		u := c.anonymous(t, `{}`)
		c.requestConversion(t, u, "carol@example.com")
		body := cl.get("/admin/mail", http.StatusOK).Body
		mustContain(t, body, "Save your progress (conversion)", "carol@example.com",
			`href="https://foyer.test/convert/complete?token=token-`+u.ID+`"`)
		mustContain(t, cl.get("/admin/mail?to=carol%40example.com", http.StatusOK).Body, "carol@example.com")
		mustContain(t, cl.get("/admin/mail?to=someone%40example.com", http.StatusOK).Body, "No messages.")
		cl.get("/admin/mail?to=nobody", http.StatusBadRequest)
	})
	t.Run("ErrNotDevMode", func(t *testing.T) {
		c := setup(t, func(cfg *admin.Config, _ *admin.Deps) { cfg.DevMode = false })
		cl := c.signedIn(t)
		cl.get("/admin/mail", http.StatusNotFound)
		mustNotContain(t, cl.get("/admin/", http.StatusOK).Body, `href="/admin/mail"`)
	})
}

// TestOptionalDeps checks that the console works with only the required
// dependencies, leaving the other pages out.
func TestOptionalDeps(t *testing.T) {
	c := setup(t, func(_ *admin.Config, d *admin.Deps) {
		*d = admin.Deps{Admins: d.Admins, Audit: d.Audit, Users: d.Users, HashPassword: d.HashPassword, VerifyPassword: d.VerifyPassword}
	})
	cl := c.signedIn(t)
	u := c.anonymous(t, `{}`)
	body := cl.get("/admin/", http.StatusOK).Body
	mustContain(t, body, "Reports are not available")
	mustNotContain(t, body, `href="/admin/webhooks"`, `href="/admin/keys"`, `href="/admin/api-keys"`, `href="/admin/apps"`, `href="/admin/reaper"`)
	mustNotContain(t, cl.get("/admin/users/"+u.ID, http.StatusOK).Body, "Timeline", "Sessions", "Export data")
	for _, p := range []string{"/admin/webhooks", "/admin/keys", "/admin/api-keys", "/admin/apps", "/admin/reaper", "/admin/users/" + u.ID + "/export", "/admin/reports/funnel.csv"} {
		cl.get(p, http.StatusNotFound)
	}
}

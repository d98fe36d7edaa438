package admin

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	foyer "github.com/foyerhq/foyer"
)

// deliveriesPerPage and auditPerPage are the page sizes of the delivery
// log and the audit log.
const (
	deliveriesPerPage = 50
	auditPerPage      = 50
	mailShown         = 50
)

// webhooksPage is the data of the webhook list.
type webhooksPage struct {
	layout
	Webhooks []*foyer.Webhook
}

// listWebhooks handles GET /admin/webhooks.
func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	if h.deps.Webhooks == nil {
		return foyer.Errorf(foyer.ENotFound, "Webhooks are not available here.")
	}
	hooks, err := h.deps.Webhooks.FindWebhooks(r.Context())
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "webhooks", &webhooksPage{layout: h.layout(r, "Webhooks"), Webhooks: hooks})
	return nil
}

// deliveryStates are the delivery log's status filter.
var deliveryStates = []string{foyer.DeliveryPending, foyer.DeliverySucceeded, foyer.DeliveryFailed}

// webhookPage is the data of one webhook's page.
type webhookPage struct {
	layout
	Webhook       *foyer.Webhook
	Deliveries    []*foyer.Delivery
	CanDeliveries bool
	Status        string
	States        []string
	Next          string
}

// webhookPage handles GET /admin/webhooks/{id}[?status=…&after=…]: the
// endpoint and its delivery log, newest first.
func (h *Handler) webhookPage(w http.ResponseWriter, r *http.Request) error {
	if h.deps.Webhooks == nil {
		return foyer.Errorf(foyer.ENotFound, "Webhooks are not available here.")
	}
	wh, err := h.deps.Webhooks.FindWebhookByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	p := &webhookPage{layout: h.layout(r, "Webhook "+wh.URL), Webhook: wh, States: deliveryStates, CanDeliveries: h.deps.Deliveries != nil}
	if h.deps.Deliveries != nil {
		q := r.URL.Query()
		f := foyer.DeliveryFilter{WebhookID: &wh.ID, Limit: deliveriesPerPage + 1}
		if s := q.Get("status"); slices.Contains(deliveryStates, s) {
			p.Status = s
			f.Status = &s
		}
		if a := q.Get("after"); isUUID(a) {
			f.After = a
		}
		ds, err := h.deps.Deliveries.FindDeliveries(r.Context(), f)
		if err != nil {
			return err
		}
		if len(ds) > deliveriesPerPage {
			ds = ds[:deliveriesPerPage]
			v := url.Values{"after": {ds[len(ds)-1].ID}}
			if p.Status != "" {
				v.Set("status", p.Status)
			}
			p.Next = "/admin/webhooks/" + wh.ID + "?" + v.Encode()
		}
		p.Deliveries = ds
	}
	h.render(w, r, http.StatusOK, "webhook", p)
	return nil
}

// setWebhookEnabled handles POST /admin/webhooks/{id}/enabled {enabled}.
func (h *Handler) setWebhookEnabled(w http.ResponseWriter, r *http.Request) error {
	if h.deps.Webhooks == nil {
		return foyer.Errorf(foyer.ENotFound, "Webhooks are not available here.")
	}
	id := r.PathValue("id")
	on := r.PostFormValue("enabled") == "true"
	_, err := h.deps.Webhooks.UpdateWebhook(r.Context(), id, foyer.WebhookUpdate{Enabled: &on})
	action, notice := "webhook.disable", "webhook-disabled"
	if on {
		action, notice = "webhook.enable", "webhook-enabled"
	}
	h.audit(r, action, id, statusOf(err, http.StatusSeeOther), nil)
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/webhooks/"+id+"?notice="+notice, http.StatusSeeOther)
	return nil
}

// redeliver handles POST /admin/deliveries/{id}/redeliver: the delivery
// is pending and due now again.
func (h *Handler) redeliver(w http.ResponseWriter, r *http.Request) error {
	if h.deps.Deliveries == nil {
		return foyer.Errorf(foyer.ENotFound, "Deliveries are not available here.")
	}
	id := r.PathValue("id")
	d, err := h.deps.Deliveries.Redeliver(r.Context(), id)
	h.audit(r, "delivery.redeliver", id, statusOf(err, http.StatusSeeOther), nil)
	if err != nil {
		return err
	}
	if h.deps.WebhookNotify != nil {
		h.deps.WebhookNotify()
	}
	http.Redirect(w, r, "/admin/webhooks/"+d.WebhookID+"?notice=redelivered", http.StatusSeeOther)
	return nil
}

// keysPage is the data of the signing key page.
type keysPage struct {
	layout
	Keys      []KeyInfo
	CanRotate bool
}

// listKeys handles GET /admin/keys.
func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request) error {
	if h.deps.ListKeys == nil {
		return foyer.Errorf(foyer.ENotFound, "Signing keys are not available here.")
	}
	h.render(w, r, http.StatusOK, "keys", &keysPage{layout: h.layout(r, "Signing keys"), Keys: h.deps.ListKeys(), CanRotate: h.deps.RotateKeys != nil})
	return nil
}

// rotateKeys handles POST /admin/keys/rotate.
func (h *Handler) rotateKeys(w http.ResponseWriter, r *http.Request) error {
	if h.deps.RotateKeys == nil {
		return foyer.Errorf(foyer.ENotFound, "Key rotation is not available here.")
	}
	err := h.deps.RotateKeys(r.Context())
	h.audit(r, "signing_key.rotate", "", statusOf(err, http.StatusSeeOther), nil)
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/keys?notice=keys-rotated", http.StatusSeeOther)
	return nil
}

// MaxAPIKeyNameLength is the longest API key name, in characters.
const MaxAPIKeyNameLength = 100

// apiKeysPage is the data of the API key page.
type apiKeysPage struct {
	layout
	Keys      []*foyer.APIKey
	CanCreate bool
	// Created and Secret show a key just created, the only time its
	// secret is shown.
	Created   *foyer.APIKey
	Secret    string
	Name      string
	NameError string
}

// listAPIKeys handles GET /admin/api-keys.
func (h *Handler) listAPIKeys(w http.ResponseWriter, r *http.Request) error {
	return h.renderAPIKeys(w, r, http.StatusOK, &apiKeysPage{})
}

// renderAPIKeys renders the API key page with p's extra content.
func (h *Handler) renderAPIKeys(w http.ResponseWriter, r *http.Request, status int, p *apiKeysPage) error {
	if h.deps.APIKeys == nil {
		return foyer.Errorf(foyer.ENotFound, "API keys are not available here.")
	}
	keys, err := h.deps.APIKeys.FindAPIKeys(r.Context())
	if err != nil {
		return err
	}
	p.layout, p.Keys, p.CanCreate = h.layout(r, "API keys"), keys, h.deps.NewAPIKey != nil
	h.render(w, r, status, "apikeys", p)
	return nil
}

// createAPIKey handles POST /admin/api-keys {name}: the answer shows the
// secret, once; it is not stored and cannot be shown again.
func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	if h.deps.APIKeys == nil || h.deps.NewAPIKey == nil {
		return foyer.Errorf(foyer.ENotFound, "API keys cannot be created here.")
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || utf8.RuneCountInString(name) > MaxAPIKeyNameLength {
		return h.renderAPIKeys(w, r, http.StatusUnprocessableEntity, &apiKeysPage{Name: name, NameError: "Give the key a name of 1 to 100 characters, such as the app that will use it."})
	}
	secret, k := h.deps.NewAPIKey()
	k.Name = name
	err := h.deps.APIKeys.CreateAPIKey(r.Context(), k)
	h.audit(r, "api_key.create", k.ID, statusOf(err, http.StatusCreated), map[string]string{"name": name})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return h.renderAPIKeys(w, r, http.StatusCreated, &apiKeysPage{Created: k, Secret: secret})
}

// revokeAPIKey handles POST /admin/api-keys/{id}/revoke.
func (h *Handler) revokeAPIKey(w http.ResponseWriter, r *http.Request) error {
	if h.deps.APIKeys == nil {
		return foyer.Errorf(foyer.ENotFound, "API keys are not available here.")
	}
	id := r.PathValue("id")
	err := h.deps.APIKeys.DeleteAPIKey(r.Context(), id)
	h.audit(r, "api_key.revoke", id, statusOf(err, http.StatusSeeOther), nil)
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/api-keys?notice=api-key-revoked", http.StatusSeeOther)
	return nil
}

// reaperPage is the data of the reaper page.
type reaperPage struct {
	layout
	Ran     bool
	DryRun  bool
	Deleted int
	Cutoff  time.Time
}

// reaperPage handles GET /admin/reaper.
func (h *Handler) reaperPage(w http.ResponseWriter, r *http.Request) error {
	if h.deps.Reap == nil {
		return foyer.Errorf(foyer.ENotFound, "The reaper is not available here.")
	}
	h.render(w, r, http.StatusOK, "reaper", &reaperPage{layout: h.layout(r, "Reaper")})
	return nil
}

// runReaper handles POST /admin/reaper {dry_run}: one run of the reaper,
// or a count of what it would delete.
func (h *Handler) runReaper(w http.ResponseWriter, r *http.Request) error {
	if h.deps.Reap == nil {
		return foyer.Errorf(foyer.ENotFound, "The reaper is not available here.")
	}
	dry := r.PostFormValue("dry_run") == "true"
	n, cutoff, err := h.deps.Reap(r.Context(), dry)
	action := "reaper.run"
	if dry {
		action = "reaper.dry_run"
	}
	h.audit(r, action, "", statusOf(err, http.StatusOK), map[string]any{"deleted": n, "cutoff": cutoff})
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "reaper", &reaperPage{layout: h.layout(r, "Reaper"), Ran: true, DryRun: dry, Deleted: n, Cutoff: cutoff})
	return nil
}

// auditPage is the data of the audit log page.
type auditPage struct {
	layout
	Entries []*foyer.AuditEntry
	Actor   string
	Target  string
	Next    string
}

// auditLog handles GET /admin/audit[?actor=…&target=…&after=…]: newest
// first.
func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := &auditPage{layout: h.layout(r, "Audit log"), Actor: strings.TrimSpace(q.Get("actor")), Target: strings.TrimSpace(q.Get("target"))}
	f := foyer.AuditFilter{Limit: auditPerPage + 1}
	if p.Actor != "" {
		f.Actor = &p.Actor
	}
	if p.Target != "" {
		f.Target = &p.Target
	}
	if a := q.Get("after"); isUUID(a) {
		f.After = a
	}
	entries, err := h.deps.Audit.FindAuditEntries(r.Context(), f)
	if err != nil {
		return err
	}
	if len(entries) > auditPerPage {
		entries = entries[:auditPerPage]
		v := url.Values{"after": {entries[len(entries)-1].ID}}
		if p.Actor != "" {
			v.Set("actor", p.Actor)
		}
		if p.Target != "" {
			v.Set("target", p.Target)
		}
		p.Next = "/admin/audit?" + v.Encode()
	}
	p.Entries = entries
	h.render(w, r, http.StatusOK, "audit", p)
	return nil
}

// mailboxOn reports whether the development mailbox is served.
func (h *Handler) mailboxOn() bool { return h.cfg.DevMode && h.deps.Mail != nil }

// mailMessage is one message of the development mailbox.
type mailMessage struct {
	Mail        *foyer.Mail
	Subject     string
	Text        string
	HTML        string
	Links       []string
	RenderError string
}

// mailboxPage is the data of the development mailbox.
type mailboxPage struct {
	layout
	To       string
	ToError  string
	Messages []mailMessage
}

// linkPattern finds the URLs in a rendered text.
var linkPattern = regexp.MustCompile(`https?://[^\s<>"']+`)

// mailbox handles GET /admin/mail[?to=…]: the newest queued and sent
// messages, rendered as they are mailed. Development mode only.
func (h *Handler) mailbox(w http.ResponseWriter, r *http.Request) error {
	if !h.mailboxOn() {
		return foyer.Errorf(foyer.ENotFound, "The development mailbox is only served in development mode.")
	}
	p := &mailboxPage{layout: h.layout(r, "Development mailbox"), To: strings.TrimSpace(r.URL.Query().Get("to"))}
	var to *string
	if p.To != "" {
		e, err := foyer.NormalizeEmail(p.To)
		if err != nil {
			p.ToError = "Enter a whole email address."
			h.render(w, r, http.StatusBadRequest, "mail", p)
			return nil
		}
		to = &e
	}
	msgs, err := h.deps.Mail.FindMail(r.Context(), to, mailShown)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		mm := mailMessage{Mail: m}
		if h.deps.RenderMail != nil {
			subject, text, html, err := h.deps.RenderMail(m)
			if err != nil {
				mm.RenderError = err.Error()
			} else {
				mm.Subject, mm.Text, mm.HTML = subject, text, html
				for _, l := range linkPattern.FindAllString(text, -1) {
					if !slices.Contains(mm.Links, l) {
						mm.Links = append(mm.Links, l)
					}
				}
			}
		}
		p.Messages = append(p.Messages, mm)
	}
	h.render(w, r, http.StatusOK, "mail", p)
	return nil
}

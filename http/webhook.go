package http

import (
	"net/http"
	"slices"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// WebhookSecretOverlap is how long a rotated-out endpoint secret keeps
// signing beside the new one, so that receivers can switch without losing
// a delivery.
const WebhookSecretOverlap = 24 * time.Hour

// webhookWithSecret is the body of POST /v1/webhooks and of a secret
// rotation: the only times the secret is shown.
type webhookWithSecret struct {
	*foyer.Webhook
	Secret string `json:"secret"`
}

// webhookInput is the body of POST and PATCH /v1/webhooks[/{id}]. Absent
// members are left alone by PATCH; an empty event_types means every type.
type webhookInput struct {
	URL        *string   `json:"url"`
	EventTypes *[]string `json:"event_types"`
	Enabled    *bool     `json:"enabled"`
}

// checkWebhookInput validates the members of in that are present.
func (s *Server) checkWebhookInput(in webhookInput) error {
	if in.URL != nil {
		if err := s.deps.ValidateWebhookURL(*in.URL); err != nil {
			return err
		}
	}
	if in.EventTypes != nil {
		for _, t := range *in.EventTypes {
			if !slices.Contains(foyer.EventTypes, t) {
				return foyer.Errorf(foyer.EInvalid, "event_types holds %q, which is not an event type.", t)
			}
		}
	}
	return nil
}

// eventTypes returns the distinct types of ts in their first order, never
// nil.
func eventTypes(ts []string) []string {
	out := []string{}
	for _, t := range ts {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// webhookDoc returns w ready to render: EventTypes is never null.
func webhookDoc(w *foyer.Webhook) *foyer.Webhook {
	if w.EventTypes == nil {
		w.EventTypes = []string{}
	}
	return w
}

// createWebhook handles POST /v1/webhooks {"url", "event_types",
// "enabled"}: the endpoint with its new secret, shown only here.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var in webhookInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.URL == nil {
		return foyer.Errorf(foyer.EInvalid, "url is required.")
	}
	if err := s.checkWebhookInput(in); err != nil {
		return err
	}
	wh := &foyer.Webhook{URL: *in.URL, Enabled: true, Secret: s.deps.NewWebhookSecret()}
	if in.EventTypes != nil {
		wh.EventTypes = eventTypes(*in.EventTypes)
	}
	if in.Enabled != nil {
		wh.Enabled = *in.Enabled
	}
	if err := s.deps.Webhooks.CreateWebhook(r.Context(), wh); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/webhooks/"+wh.ID)
	return writeJSON(w, http.StatusCreated, webhookWithSecret{Webhook: webhookDoc(wh), Secret: wh.Secret})
}

// listWebhooks handles GET /v1/webhooks: every endpoint, oldest first,
// without secrets.
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	whs, err := s.deps.Webhooks.FindWebhooks(r.Context())
	if err != nil {
		return err
	}
	if whs == nil {
		whs = []*foyer.Webhook{}
	}
	for _, wh := range whs {
		webhookDoc(wh)
	}
	return writeJSON(w, http.StatusOK, struct {
		Webhooks []*foyer.Webhook `json:"webhooks"`
	}{whs})
}

// getWebhook handles GET /v1/webhooks/{id}, without the secret.
func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.deps.Webhooks.FindWebhookByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, webhookDoc(wh))
}

// patchWebhook handles PATCH /v1/webhooks/{id} {"url", "event_types",
// "enabled"}, each optional. Enabling an endpoint that Foyer disabled
// clears the reason; deliveries it missed meanwhile can be sent again with
// POST /v1/deliveries/{id}/redeliver.
func (s *Server) patchWebhook(w http.ResponseWriter, r *http.Request) error {
	var in webhookInput
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.checkWebhookInput(in); err != nil {
		return err
	}
	upd := foyer.WebhookUpdate{URL: in.URL, Enabled: in.Enabled}
	if in.EventTypes != nil {
		ts := eventTypes(*in.EventTypes)
		upd.EventTypes = &ts
	}
	wh, err := s.deps.Webhooks.UpdateWebhook(r.Context(), r.PathValue("id"), upd)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, webhookDoc(wh))
}

// deleteWebhook handles DELETE /v1/webhooks/{id}: the endpoint and its
// deliveries are deleted.
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.deps.Webhooks.DeleteWebhook(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotateWebhookSecret handles POST /v1/webhooks/{id}/rotate-secret: a new
// secret, shown only in this response, signs from now on, and the previous
// one keeps signing beside it for WebhookSecretOverlap, so every delivery
// in that time carries both signatures.
func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	secret := s.deps.NewWebhookSecret()
	wh, err := s.deps.Webhooks.RotateWebhookSecret(r.Context(), r.PathValue("id"), secret, s.now().Add(WebhookSecretOverlap))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, webhookWithSecret{Webhook: webhookDoc(wh), Secret: secret})
}

// deliveryStatuses are the values of the status filter of GET
// /v1/deliveries.
var deliveryStatuses = []string{foyer.DeliveryPending, foyer.DeliverySucceeded, foyer.DeliveryFailed}

// deliveriesPage is the body of GET /v1/deliveries.
type deliveriesPage struct {
	Deliveries []*foyer.Delivery `json:"deliveries"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// listDeliveries handles GET /v1/deliveries with the filters webhook_id,
// event_id, user_id, status, limit and cursor: the delivery log, newest
// first, with the outcome of each delivery's last attempt.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r.URL.Query(), "webhook_id", "event_id", "user_id", "status", "limit", "cursor")
	f := foyer.DeliveryFilter{
		WebhookID: q.string("webhook_id"),
		EventID:   q.string("event_id"),
		UserID:    q.string("user_id"),
		Status:    q.string("status"),
		After:     q.cursor(),
	}
	limit := q.limit()
	if f.Status != nil && !slices.Contains(deliveryStatuses, *f.Status) {
		q.fail("status must be %s, %s or %s.", foyer.DeliveryPending, foyer.DeliverySucceeded, foyer.DeliveryFailed)
	}
	if q.err != nil {
		return q.err
	}
	ds := []*foyer.Delivery{}
	next := ""
	// Ids are UUIDs: another value names nothing, so it matches nothing.
	if validIDs(f.WebhookID, f.EventID, f.UserID) {
		f.Limit = fetchSize(limit)
		found, err := s.deps.Deliveries.FindDeliveries(r.Context(), f)
		if err != nil {
			return err
		}
		if found, next = page(found, limit, func(d *foyer.Delivery) string { return d.ID }); found != nil {
			ds = found
		}
	}
	return writeJSON(w, http.StatusOK, deliveriesPage{Deliveries: ds, NextCursor: next})
}

// validIDs reports whether each id that is set is a UUID.
func validIDs(ids ...*string) bool {
	for _, id := range ids {
		if id != nil && !isUUID(*id) {
			return false
		}
	}
	return true
}

// redeliver handles POST /v1/deliveries/{id}/redeliver: the delivery,
// whatever its state, is due again now, with the same webhook-id so that
// receivers can tell it from a new event. The dispatcher is woken.
func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) error {
	d, err := s.deps.Deliveries.Redeliver(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if s.deps.WebhookNotify != nil {
		s.deps.WebhookNotify()
	}
	return writeJSON(w, http.StatusAccepted, d)
}

package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// User list paging. A page shows usersPerPage users. Filters the store
// cannot apply (pending conversion, the start of the last-active range)
// are applied to the users the store returns, reading at most maxScan of
// them per page view; past that the page ends early and offers to go on,
// so that no page view reads more than a bounded number of rows and none
// counts them all.
const (
	usersPerPage = 50
	maxScan      = 2000
)

// User states of the list filter.
const (
	stateAnonymous  = "anonymous"
	statePending    = "pending"
	stateRegistered = "registered"
)

// userQuery is the parsed query of the user list: the form's values as
// typed, and what they mean.
type userQuery struct {
	Q           string
	State       string
	CreatedFrom string
	CreatedTo   string
	ActiveFrom  string
	ActiveTo    string
	After       string

	// id is set when Q is a user id: the page shows that user alone.
	id     string
	filter foyer.UserFilter
	// activeFrom filters on LastSeenAt, which the store cannot.
	activeFrom *time.Time
}

// parseUserQuery reads the user list's query. Values that cannot be read
// are reported in errs by field, and left out of the filter.
func parseUserQuery(v url.Values) (q userQuery, errs map[string]string) {
	errs = map[string]string{}
	q = userQuery{
		Q:           strings.TrimSpace(v.Get("q")),
		State:       v.Get("state"),
		CreatedFrom: strings.TrimSpace(v.Get("created_from")),
		CreatedTo:   strings.TrimSpace(v.Get("created_to")),
		ActiveFrom:  strings.TrimSpace(v.Get("active_from")),
		ActiveTo:    strings.TrimSpace(v.Get("active_to")),
		After:       v.Get("after"),
	}
	switch {
	case q.Q == "":
	case isUUID(strings.ToLower(q.Q)):
		q.id = strings.ToLower(q.Q)
	default:
		email, err := foyer.NormalizeEmail(q.Q)
		if err != nil {
			errs["q"] = "Enter a whole email address or a user id."
			break
		}
		q.filter.Email = &email
	}
	t, f := true, false
	switch q.State {
	case "":
	case stateAnonymous, statePending:
		q.filter.Anonymous = &t
	case stateRegistered:
		q.filter.Anonymous = &f
	default:
		errs["state"] = "Choose a state from the list."
		q.State = ""
	}
	day := func(field, s string) *time.Time {
		if s == "" {
			return nil
		}
		d, err := time.Parse("2006-01-02", s)
		if err != nil || d.Year() < 2000 || d.Year() > 9999 {
			errs[field] = "Enter a date as YYYY-MM-DD."
			return nil
		}
		return &d
	}
	if d := day("created_from", q.CreatedFrom); d != nil {
		// CreatedAfter is exclusive, to the millisecond.
		t := d.Add(-time.Millisecond)
		q.filter.CreatedAfter = &t
	}
	if d := day("created_to", q.CreatedTo); d != nil {
		t := d.AddDate(0, 0, 1)
		q.filter.CreatedBefore = &t
	}
	q.activeFrom = day("active_from", q.ActiveFrom)
	if d := day("active_to", q.ActiveTo); d != nil {
		t := d.AddDate(0, 0, 1)
		q.filter.InactiveSince = &t
	}
	if q.After != "" {
		if !isUUID(q.After) {
			errs["after"] = "The page link is not valid; start from the first page."
			q.After = ""
		}
		q.filter.After = q.After
	}
	return q, errs
}

// keep reports whether u passes the filters the store does not apply.
func (q *userQuery) keep(u *foyer.User) bool {
	switch q.State {
	case stateAnonymous:
		if u.PendingEmail != "" {
			return false
		}
	case statePending:
		if u.PendingEmail == "" {
			return false
		}
	}
	if q.activeFrom != nil && u.LastSeenAt.Before(*q.activeFrom) {
		return false
	}
	return true
}

// postFiltered reports whether keep filters anything.
func (q *userQuery) postFiltered() bool {
	return q.State == stateAnonymous || q.State == statePending || q.activeFrom != nil
}

// values returns the query's parameters for links, without the cursor.
func (q *userQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("q", q.Q)
	set("state", q.State)
	set("created_from", q.CreatedFrom)
	set("created_to", q.CreatedTo)
	set("active_from", q.ActiveFrom)
	set("active_to", q.ActiveTo)
	return v
}

// isUUID reports whether s is a UUID in canonical lowercase text form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// findUsers returns a page of users for q and the cursor of the next
// page ("" on the last), and whether the page ended early because it
// read maxScan users.
func (h *Handler) findUsers(r *http.Request, q *userQuery) (users []*foyer.User, next string, partial bool, err error) {
	ctx := r.Context()
	if q.id != "" {
		u, err := h.deps.Users.FindUserByID(ctx, q.id)
		if foyer.ErrorCode(err) == foyer.ENotFound {
			return nil, "", false, nil
		}
		if err != nil {
			return nil, "", false, err
		}
		if !q.keep(u) || !matchesStoreFilter(u, q.filter) {
			return nil, "", false, nil
		}
		return []*foyer.User{u}, "", false, nil
	}
	f := q.filter
	if !q.postFiltered() {
		f.Limit = usersPerPage + 1
		users, err := h.deps.Users.FindUsers(ctx, f)
		if err != nil {
			return nil, "", false, err
		}
		if len(users) > usersPerPage {
			return users[:usersPerPage], users[usersPerPage-1].ID, false, nil
		}
		return users, "", false, nil
	}
	budget := maxScan
	for {
		f.Limit = min(foyer.MaxPageSize, budget)
		batch, err := h.deps.Users.FindUsers(ctx, f)
		if err != nil {
			return nil, "", false, err
		}
		for _, u := range batch {
			if !q.keep(u) {
				continue
			}
			if len(users) == usersPerPage {
				return users, users[usersPerPage-1].ID, false, nil
			}
			users = append(users, u)
		}
		budget -= len(batch)
		if len(batch) < f.Limit {
			return users, "", false, nil
		}
		f.After = batch[len(batch)-1].ID
		if budget <= 0 {
			return users, f.After, true, nil
		}
	}
}

// matchesStoreFilter applies the store's filters to one user found by
// id, so that a search by id within a filter agrees with the list.
func matchesStoreFilter(u *foyer.User, f foyer.UserFilter) bool {
	if f.Anonymous != nil && u.Anonymous != *f.Anonymous {
		return false
	}
	if f.Email != nil && u.Email != *f.Email {
		return false
	}
	if f.CreatedAfter != nil && !u.CreatedAt.After(*f.CreatedAfter) {
		return false
	}
	if f.CreatedBefore != nil && !u.CreatedAt.Before(*f.CreatedBefore) {
		return false
	}
	if f.InactiveSince != nil && !u.LastSeenAt.Before(*f.InactiveSince) {
		return false
	}
	return true
}

// usersPage is the data of the user list.
type usersPage struct {
	layout
	Query    userQuery
	Errors   map[string]string
	Users    []*foyer.User
	Next     string
	Partial  bool
	First    string
	Filtered bool
	MaxScan  int
}

// listUsers handles GET /admin/users.
func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	q, errs := parseUserQuery(r.URL.Query())
	p := &usersPage{layout: h.layout(r, "Users"), Query: q, Errors: errs, MaxScan: maxScan}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusBadRequest
	} else {
		users, next, partial, err := h.findUsers(r, &q)
		if err != nil {
			return err
		}
		p.Users, p.Partial = users, partial
		v := q.values()
		p.Filtered = len(v) > 0
		p.First = "/admin/users"
		if len(v) > 0 {
			p.First += "?" + v.Encode()
		}
		if next != "" {
			v.Set("after", next)
			p.Next = "/admin/users?" + v.Encode()
		}
	}
	h.render(w, r, status, "users", p)
	return nil
}

// eventsPerPage is how many events of the timeline a user page shows.
const eventsPerPage = 50

// timelineEvent is one event of a user's timeline.
type timelineEvent struct {
	Type      string
	CreatedAt time.Time
	// Details are the event's members besides the user, compact.
	Details string
}

// userPage is the data of a user's page.
type userPage struct {
	layout
	User *foyer.User
	// Data is the editor's text; DataError says what is wrong with it.
	Data      string
	DataError string
	Version   int64
	Sessions  []*foyer.Session
	Events    []timelineEvent
	// EventsNext links to the next events of the timeline.
	EventsNext   string
	ConvertEmail string
	ConvertError string
	CanSessions  bool
	CanEvents    bool
	CanExport    bool
	CanConvert   bool
}

// loadUserPage gathers a user's page.
func (h *Handler) loadUserPage(r *http.Request, id string) (*userPage, error) {
	ctx := r.Context()
	u, err := h.deps.Users.FindUserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	p := &userPage{
		layout:      h.layout(r, "User "+u.ID),
		User:        u,
		Data:        prettyJSON(u.Data),
		Version:     u.Version,
		CanSessions: h.deps.Sessions != nil,
		CanEvents:   h.deps.Events != nil,
		CanExport:   h.deps.Exports != nil,
		CanConvert:  h.deps.Conversions != nil && u.Anonymous,
	}
	if h.deps.Sessions != nil {
		if p.Sessions, err = h.deps.Sessions.FindSessions(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	if h.deps.Events != nil {
		after := r.URL.Query().Get("events_after")
		if !isUUID(after) {
			after = ""
		}
		events, err := h.deps.Events.FindEvents(ctx, foyer.EventFilter{UserID: &u.ID, After: after, Limit: eventsPerPage + 1})
		if err != nil {
			return nil, err
		}
		if len(events) > eventsPerPage {
			events = events[:eventsPerPage]
			p.EventsNext = "/admin/users/" + u.ID + "?events_after=" + url.QueryEscape(events[len(events)-1].ID) + "#timeline"
		}
		for _, e := range events {
			p.Events = append(p.Events, timelineEvent{Type: e.Type, CreatedAt: e.CreatedAt, Details: eventDetails(e.Data)})
		}
	}
	return p, nil
}

// eventDetails returns the members of an event's data besides "user",
// as compact JSON, or "".
func eventDetails(data json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return ""
	}
	delete(m, "user")
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(b)
}

// userPage handles GET /admin/users/{id}.
func (h *Handler) userPage(w http.ResponseWriter, r *http.Request) error {
	p, err := h.loadUserPage(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "user", p)
	return nil
}

// updateUserData handles POST /admin/users/{id}/data {data, version}: the
// text replaces the profile data, sent to the store as the merge patch
// from the version the admin edited. A malformed document, or data that
// changed meanwhile, shows the page again with the text kept and the
// problem beside it.
func (h *Handler) updateUserData(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	text := r.PostFormValue("data")
	var version int64
	fmt.Sscan(r.PostFormValue("version"), &version)
	u, err := h.deps.Users.FindUserByID(r.Context(), id)
	if err != nil {
		return err
	}
	problem := func(msg string, status int) error {
		p, err := h.loadUserPage(r, id)
		if err != nil {
			return err
		}
		p.Data, p.DataError = text, msg
		if status == http.StatusConflict {
			// Saving again deliberately overwrites the newer data.
			p.Version = u.Version
		} else {
			p.Version = version
		}
		h.audit(r, "user.update", id, status, nil)
		h.render(w, r, status, "user", p)
		return nil
	}
	if u.Version != version {
		return problem("The data changed after you opened this page. Reload to see it, or save again to replace it with your text.", http.StatusConflict)
	}
	patch, err := replacementPatch(u.Data, text)
	if err != nil {
		if foyer.ErrorCode(err) == foyer.EInvalid {
			return problem(foyer.ErrorMessage(err), http.StatusUnprocessableEntity)
		}
		return err
	}
	if bytes.Equal(patch, []byte("{}")) {
		http.Redirect(w, r, "/admin/users/"+id+"?notice=data-saved", http.StatusSeeOther)
		return nil
	}
	if _, err := h.deps.Users.UpdateUser(r.Context(), id, foyer.UserUpdate{DataPatch: patch, IfVersion: &version}); err != nil {
		switch foyer.ErrorCode(err) {
		case foyer.EPreconditionFailed:
			u, err = h.deps.Users.FindUserByID(r.Context(), id)
			if err != nil {
				return err
			}
			return problem("The data changed after you opened this page. Reload to see it, or save again to replace it with your text.", http.StatusConflict)
		case foyer.EInvalid, foyer.ETooLarge:
			return problem(foyer.ErrorMessage(err), http.StatusUnprocessableEntity)
		}
		return err
	}
	h.audit(r, "user.update", id, http.StatusSeeOther, nil)
	http.Redirect(w, r, "/admin/users/"+id+"?notice=data-saved", http.StatusSeeOther)
	return nil
}

// revokeSession handles POST /admin/users/{id}/sessions/{sid}/revoke.
func (h *Handler) revokeSession(w http.ResponseWriter, r *http.Request) error {
	if h.deps.Sessions == nil {
		return foyer.Errorf(foyer.ENotFound, "Sessions are not available here.")
	}
	id, sid := r.PathValue("id"), r.PathValue("sid")
	sessions, err := h.deps.Sessions.FindSessions(r.Context(), id)
	if err != nil {
		return err
	}
	found := false
	for _, s := range sessions {
		found = found || s.ID == sid
	}
	if !found {
		return foyer.Errorf(foyer.ENotFound, "This user has no such session.")
	}
	err = h.deps.Sessions.DeleteSession(r.Context(), sid)
	h.audit(r, "session.revoke", sid, statusOf(err, http.StatusSeeOther), map[string]string{"user_id": id})
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/users/"+id+"?notice=session-revoked#sessions", http.StatusSeeOther)
	return nil
}

// revokeUserTokens handles POST /admin/users/{id}/revoke: every token of
// the user stops verifying and their sessions end.
func (h *Handler) revokeUserTokens(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	_, err := h.deps.Users.RevokeUserTokens(r.Context(), id)
	h.audit(r, "user.revoke_tokens", id, statusOf(err, http.StatusSeeOther), nil)
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/users/"+id+"?notice=tokens-revoked", http.StatusSeeOther)
	return nil
}

// deletePage is the data of the delete confirmation page.
type deletePage struct {
	layout
	User *foyer.User
}

// deleteUserPage handles GET /admin/users/{id}/delete: the confirmation.
func (h *Handler) deleteUserPage(w http.ResponseWriter, r *http.Request) error {
	u, err := h.deps.Users.FindUserByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "delete", &deletePage{layout: h.layout(r, "Delete user "+u.ID), User: u})
	return nil
}

// deleteUser handles POST /admin/users/{id}/delete, recorded with reason
// admin.
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := h.deps.Users.DeleteUser(r.Context(), id, foyer.DeleteReasonAdmin)
	h.audit(r, "user.delete", id, statusOf(err, http.StatusSeeOther), nil)
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/users?notice=user-deleted", http.StatusSeeOther)
	return nil
}

// exportUser handles GET /admin/users/{id}/export: everything stored
// about the user, as a JSON download.
func (h *Handler) exportUser(w http.ResponseWriter, r *http.Request) error {
	if h.deps.Exports == nil {
		return foyer.Errorf(foyer.ENotFound, "Exports are not available here.")
	}
	id := r.PathValue("id")
	e, err := h.deps.Exports.ExportUser(r.Context(), id)
	h.audit(r, "user.export", id, statusOf(err, http.StatusOK), nil)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("encode export: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="foyer-user-`+e.User.ID+`.json"`)
	w.Write(b)
	return nil
}

// convertUser handles POST /admin/users/{id}/convert {email}: the audited
// admin conversion, for an address the operator vouches for.
func (h *Handler) convertUser(w http.ResponseWriter, r *http.Request) error {
	if h.deps.Conversions == nil {
		return foyer.Errorf(foyer.ENotFound, "Conversion is not available here.")
	}
	id := r.PathValue("id")
	raw := strings.TrimSpace(r.PostFormValue("email"))
	email, err := foyer.NormalizeEmail(raw)
	if err == nil {
		// user.converted names the admin, in the conversion's own
		// transaction; the audit entry below may fail on its own.
		var actor string
		if s := sessionFromContext(r.Context()); s != nil {
			actor = "admin:" + s.Admin.ID
		}
		_, err = h.deps.Conversions.ConvertUser(r.Context(), id, email, actor)
	}
	status := statusOf(err, http.StatusSeeOther)
	h.audit(r, "user.convert", id, status, map[string]string{"email": email})
	switch foyer.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/admin/users/"+id+"?notice=user-converted", http.StatusSeeOther)
		return nil
	case foyer.EInvalid, foyer.EConflict, foyer.EIdentifierTaken:
		p, perr := h.loadUserPage(r, id)
		if perr != nil {
			return perr
		}
		p.ConvertEmail = raw
		p.ConvertError = foyer.ErrorMessage(err)
		if foyer.ErrorCode(err) == foyer.EIdentifierTaken {
			p.ConvertError = "Another account already has this address."
		}
		h.render(w, r, status, "user", p)
		return nil
	}
	return err
}

// statusOf returns the status an action ended with: ok, or that of err.
func statusOf(err error, ok int) int {
	if err == nil {
		return ok
	}
	return errorStatus(err)
}

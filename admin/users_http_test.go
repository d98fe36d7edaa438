package admin_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var userLink = regexp.MustCompile(`href="/admin/users/([0-9a-f-]{36})" class="mono"`)

// listed returns the ids of the users a list page shows, in order.
func listed(body string) []string {
	var ids []string
	for _, m := range userLink.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestUserList(t *testing.T) {
	c := setup(t)
	ctx := t.Context()

	// Day 0: two anonymous users, one of them pending conversion, and a
	// registered user. Day 2: another anonymous user. Day 5: the first
	// comes back.
	a1 := c.anonymous(t, `{}`)
	a2 := c.anonymous(t, `{}`)
	c.requestConversion(t, a2, "pending@example.com")
	r1 := c.registered(t, "ann@example.com")
	c.clock.Advance(48 * time.Hour)
	a3 := c.anonymous(t, `{}`)
	c.clock.Advance(72 * time.Hour)
	if _, err := c.users.TouchUser(ctx, a1.ID, c.clock.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	cl := c.signedIn(t)

	day := func(d int) string { return start.AddDate(0, 0, d).Format("2006-01-02") }
	tests := []struct {
		name   string
		query  string
		want   []string
		status int
	}{
		{"OKAll", "", []string{a1.ID, a2.ID, r1.ID, a3.ID}, 200},
		{"OKAnonymous", "state=anonymous", []string{a1.ID, a3.ID}, 200},
		{"OKPending", "state=pending", []string{a2.ID}, 200},
		{"OKRegistered", "state=registered", []string{r1.ID}, 200},
		{"OKEmail", "q=" + url.QueryEscape(" ANN@Example.com "), []string{r1.ID}, 200},
		{"OKID", "q=" + a3.ID, []string{a3.ID}, 200},
		{"OKIDOutsideFilter", "q=" + a3.ID + "&state=registered", nil, 200},
		{"OKUnknownID", "q=0195a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b", nil, 200},
		{"OKCreatedFrom", "created_from=" + day(1), []string{a3.ID}, 200},
		{"OKCreatedTo", "created_to=" + day(0), []string{a1.ID, a2.ID, r1.ID}, 200},
		{"OKActiveFrom", "active_from=" + day(3), []string{a1.ID}, 200},
		{"OKActiveTo", "active_to=" + day(2) + "&state=anonymous", []string{a3.ID}, 200},
		{"OKCombined", "state=anonymous&created_to=" + day(0) + "&active_from=" + day(4), []string{a1.ID}, 200},
		{"ErrSearch", "q=nobody", nil, 400},
		{"ErrDate", "created_from=03%2F01%2F2026", nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cl.get("/admin/users?"+tt.query, tt.status)
			if diff := cmp.Diff(tt.want, listed(r.Body), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Fatalf("users (-want +got):\n%s", diff)
			}
			switch {
			case tt.status != 200:
				mustContain(t, r.Body, `aria-invalid="true"`, `class="field-error"`)
			case len(tt.want) == 0:
				mustContain(t, r.Body, "No users match.")
			}
		})
	}
	t.Run("OKStateShown", func(t *testing.T) {
		r := cl.get("/admin/users", http.StatusOK)
		mustContain(t, r.Body, "pending@example.com", "ann@example.com", `class="badge state-pending"`, `class="badge state-registered"`)
	})
}

func TestUserListPages(t *testing.T) {
	c := setup(t)
	cl := c.signedIn(t)
	var want []string
	for i := range 57 {
		u := c.anonymous(t, `{}`)
		if i%3 == 0 {
			c.requestConversion(t, u, "p"+strconv.Itoa(i)+"@example.com")
		} else {
			want = append(want, u.ID)
		}
		c.clock.Advance(time.Millisecond)
	}
	page := func(path string) ([]string, string) {
		t.Helper()
		body := cl.get(path, http.StatusOK).Body
		next := ""
		if m := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
		return listed(body), next
	}
	t.Run("OK", func(t *testing.T) {
		first, next := page("/admin/users")
		if len(first) != 50 || next == "" {
			t.Fatalf("first page: %d users, next %q", len(first), next)
		}
		second, next2 := page(next)
		if len(second) != 7 || next2 != "" {
			t.Fatalf("second page: %d users, next %q", len(second), next2)
		}
		if slices.Contains(second, first[len(first)-1]) {
			t.Fatal("the pages overlap")
		}
	})
	t.Run("OKPostFiltered", func(t *testing.T) {
		// Only the users without a pending conversion, still in pages of 50.
		first, next := page("/admin/users?state=anonymous")
		if len(first) != 38 || next != "" {
			t.Fatalf("%d users, next %q; want 38 and no next page", len(first), next)
		}
		if diff := cmp.Diff(want, first, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Fatalf("users (-want +got):\n%s", diff)
		}
		pending, _ := page("/admin/users?state=pending")
		if len(pending) != 19 {
			t.Fatalf("%d pending users, want 19", len(pending))
		}
	})
}

func TestUserPage(t *testing.T) {
	c := setup(t)
	cl := c.signedIn(t)
	ctx := t.Context()
	u := c.registered(t, "bob@example.com")
	if _, err := c.users.UpdateUser(ctx, u.ID, foyer.UserUpdate{DataPatch: []byte(`{"theme":"dark","cart":{"items":[1,2]}}`)}); err != nil {
		t.Fatal(err)
	}
	s1 := c.session(t, u, "Firefox on Linux")
	s2 := c.session(t, u, "Safari on iPhone")
	page := "/admin/users/" + u.ID

	t.Run("OK", func(t *testing.T) {
		r := cl.get(page, http.StatusOK)
		mustContain(t, r.Body,
			"bob@example.com", `id="user-state">registered<`,
			"&#34;theme&#34;: &#34;dark&#34;", // pretty-printed in the editor
			"Firefox on Linux", "Safari on iPhone", s1.ID, s2.ID,
			foyer.EventUserCreated, foyer.EventUserUpdated, foyer.EventUserLoginSuccess,
			"/admin/users/"+u.ID+"/export",
		)
		mustNotContain(t, r.Body, "Convert to a registered account")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		cl.get("/admin/users/0195a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b", http.StatusNotFound)
		cl.get("/admin/users/not-an-id", http.StatusNotFound)
	})
	t.Run("OKEditData", func(t *testing.T) {
		before, _ := c.users.FindUserByID(ctx, u.ID)
		r := cl.post(page, page+"/data", url.Values{"data": {`{"theme": "light", "cart": {"items": [3]}, "new": true}`}, "version": {strconv.FormatInt(before.Version, 10)}}, http.StatusSeeOther)
		if r.Location() != page+"?notice=data-saved" {
			t.Fatalf("redirect to %q", r.Location())
		}
		after, _ := c.users.FindUserByID(ctx, u.ID)
		var got any
		json.Unmarshal(after.Data, &got)
		want := map[string]any{"theme": "light", "cart": map[string]any{"items": []any{3.0}}, "new": true}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("data (-want +got):\n%s", diff)
		}
		mustContain(t, cl.get(r.Location(), http.StatusOK).Body, "The profile data was saved.")
	})
	t.Run("OKRemoveMembers", func(t *testing.T) {
		before, _ := c.users.FindUserByID(ctx, u.ID)
		cl.post(page, page+"/data", url.Values{"data": {`{"theme": "light"}`}, "version": {strconv.FormatInt(before.Version, 10)}}, http.StatusSeeOther)
		after, _ := c.users.FindUserByID(ctx, u.ID)
		if string(after.Data) != `{"theme":"light"}` {
			t.Fatalf("data = %s", after.Data)
		}
	})
	t.Run("ErrInvalidJSON", func(t *testing.T) {
		before, _ := c.users.FindUserByID(ctx, u.ID)
		text := "{\n  \"theme\": \"light\",\n  \"oops\"\n}"
		r := cl.post(page, page+"/data", url.Values{"data": {text}, "version": {strconv.FormatInt(before.Version, 10)}}, http.StatusUnprocessableEntity)
		mustContain(t, r.Body, `id="data-error"`, "Line 4, column 1", `aria-invalid="true"`, "&#34;oops&#34;")
		after, _ := c.users.FindUserByID(ctx, u.ID)
		if after.Version != before.Version {
			t.Fatal("invalid data changed the user")
		}
	})
	t.Run("ErrNull", func(t *testing.T) {
		before, _ := c.users.FindUserByID(ctx, u.ID)
		r := cl.post(page, page+"/data", url.Values{"data": {`{"a": null}`}, "version": {strconv.FormatInt(before.Version, 10)}}, http.StatusUnprocessableEntity)
		mustContain(t, r.Body, "&#34;a&#34; is null")
	})
	t.Run("ErrChangedMeanwhile", func(t *testing.T) {
		stale, _ := c.users.FindUserByID(ctx, u.ID)
		if _, err := c.users.UpdateUser(ctx, u.ID, foyer.UserUpdate{DataPatch: []byte(`{"by":"app"}`)}); err != nil {
			t.Fatal(err)
		}
		r := cl.post(page, page+"/data", url.Values{"data": {`{"by": "admin"}`}, "version": {strconv.FormatInt(stale.Version, 10)}}, http.StatusConflict)
		mustContain(t, r.Body, "The data changed after you opened this page.")
		// The page now carries the newer version: saving again replaces.
		m := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(r.Body)
		cl.post(page, page+"/data", url.Values{"data": {`{"by": "admin"}`}, "version": {m[1]}}, http.StatusSeeOther)
		after, _ := c.users.FindUserByID(ctx, u.ID)
		if string(after.Data) != `{"by":"admin"}` {
			t.Fatalf("data = %s", after.Data)
		}
	})
	t.Run("OKRevokeSession", func(t *testing.T) {
		r := cl.post(page, page+"/sessions/"+s1.ID+"/revoke", nil, http.StatusSeeOther)
		if r.Location() != page+"?notice=session-revoked#sessions" {
			t.Fatalf("redirect to %q", r.Location())
		}
		left, err := c.sessions.FindSessions(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 1 || left[0].ID != s2.ID {
			t.Fatalf("sessions left: %v", left)
		}
	})
	t.Run("ErrRevokeOthersSession", func(t *testing.T) {
		other := c.registered(t, "eve@example.com")
		os := c.session(t, other, "Chrome")
		cl.post(page, page+"/sessions/"+os.ID+"/revoke", nil, http.StatusNotFound)
		if left, _ := c.sessions.FindSessions(ctx, other.ID); len(left) != 1 {
			t.Fatal("another user's session was revoked")
		}
	})
	t.Run("OKRevokeTokens", func(t *testing.T) {
		before, _ := c.users.FindUserByID(ctx, u.ID)
		cl.post(page, page+"/revoke", nil, http.StatusSeeOther)
		after, _ := c.users.FindUserByID(ctx, u.ID)
		if after.Epoch != before.Epoch+1 {
			t.Fatalf("epoch %d → %d", before.Epoch, after.Epoch)
		}
		if left, _ := c.sessions.FindSessions(ctx, u.ID); len(left) != 0 {
			t.Fatalf("%d sessions left", len(left))
		}
	})
	t.Run("OKExport", func(t *testing.T) {
		r := cl.get(page+"/export", http.StatusOK)
		if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename="foyer-user-`+u.ID+`.json"` {
			t.Fatalf("Content-Disposition = %q", cd)
		}
		var e foyer.Export
		if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
			t.Fatal(err)
		}
		if e.User == nil || e.User.ID != u.ID || len(e.Events) == 0 {
			t.Fatalf("export %+v", e)
		}
	})
	t.Run("OKDelete", func(t *testing.T) {
		mustContain(t, cl.get(page+"/delete", http.StatusOK).Body, "Delete this user", "bob@example.com")
		r := cl.post(page+"/delete", page+"/delete", nil, http.StatusSeeOther)
		if r.Location() != "/admin/users?notice=user-deleted" {
			t.Fatalf("redirect to %q", r.Location())
		}
		if _, err := c.users.FindUserByID(ctx, u.ID); foyer.ErrorCode(err) != foyer.ENotFound {
			t.Fatalf("err = %v, want not found", err)
		}
		cl.post("/admin/users", page+"/delete", nil, http.StatusNotFound)
	})
	t.Run("OKAudited", func(t *testing.T) {
		want := []string{"user.update 303", "user.update 303", "user.update 422", "user.update 422", "user.update 409", "user.update 303", "user.revoke_tokens 303", "user.export 200", "user.delete 303", "user.delete 404"}
		if diff := cmp.Diff(want, c.auditActions(t, u.ID)); diff != "" {
			t.Fatalf("audit (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"session.revoke 303"}, c.auditActions(t, s1.ID)); diff != "" {
			t.Fatalf("audit of the session (-want +got):\n%s", diff)
		}
		entries, _ := c.audit.FindAuditEntries(ctx, foyer.AuditFilter{Limit: 1})
		if len(entries) != 1 || !strings.HasPrefix(entries[0].Actor, "admin:") || entries[0].IP != "127.0.0.1" {
			t.Fatalf("latest entry %+v", entries)
		}
	})
}

func TestConvertUser(t *testing.T) {
	c := setup(t)
	cl := c.signedIn(t)
	ctx := t.Context()
	c.registered(t, "taken@example.com")
	u := c.anonymous(t, `{"level":3}`)
	page := "/admin/users/" + u.ID
	mustContain(t, cl.get(page, http.StatusOK).Body, "Convert to a registered account", `id="user-state">anonymous<`)

	t.Run("ErrInvalid", func(t *testing.T) {
		r := cl.post(page, page+"/convert", url.Values{"email": {"not an address"}}, http.StatusBadRequest)
		mustContain(t, r.Body, `id="convert-error"`, "The email address is not valid.", `value="not an address"`)
	})
	t.Run("ErrTaken", func(t *testing.T) {
		r := cl.post(page, page+"/convert", url.Values{"email": {"Taken@example.com"}}, http.StatusConflict)
		mustContain(t, r.Body, "Another account already has this address.")
	})
	t.Run("OK", func(t *testing.T) {
		r := cl.post(page, page+"/convert", url.Values{"email": {"New@Example.com"}}, http.StatusSeeOther)
		if r.Location() != page+"?notice=user-converted" {
			t.Fatalf("redirect to %q", r.Location())
		}
		got, _ := c.users.FindUserByID(ctx, u.ID)
		if got.Anonymous || got.Email != "new@example.com" || !got.EmailVerified {
			t.Fatalf("user %+v", got)
		}
		body := cl.get(r.Location(), http.StatusOK).Body
		mustContain(t, body, "The user is now registered.", foyer.EventUserConverted)
		mustNotContain(t, body, "Convert to a registered account")
	})
	t.Run("ErrNotAnonymous", func(t *testing.T) {
		cl.post(page, page+"/convert", url.Values{"email": {"again@example.com"}}, http.StatusConflict)
	})
	want := []string{"user.convert 400", "user.convert 409", "user.convert 303", "user.convert 409"}
	if diff := cmp.Diff(want, c.auditActions(t, u.ID)); diff != "" {
		t.Fatalf("audit (-want +got):\n%s", diff)
	}
}

// TestUserListBoundedScan checks that a filter the store cannot apply
// reads at most a bounded number of users per page view, and offers to
// search further.
func TestUserListBoundedScan(t *testing.T) {
	c := setup(t)
	var last *foyer.User
	for range 2100 {
		last = c.anonymous(t, `{}`)
	}
	c.requestConversion(t, last, "late@example.com")
	cl := c.signedIn(t)
	body := cl.get("/admin/users?state=pending", http.StatusOK).Body
	if got := listed(body); len(got) != 0 {
		t.Fatalf("first page lists %v", got)
	}
	mustContain(t, body, "This page read 2000 users without filling up", `rel="next">Search further</a>`)
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(body)
	body = cl.get(strings.ReplaceAll(next[1], "&amp;", "&"), http.StatusOK).Body
	if got := listed(body); len(got) != 1 || got[0] != last.ID {
		t.Fatalf("second page lists %v, want %s", got, last.ID)
	}
	mustNotContain(t, body, `rel="next"`)
}

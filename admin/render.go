package admin

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	foyer "github.com/foyerhq/foyer"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/admin.css
var stylesheet []byte

// pages holds one parsed template per page, each with the layout and the
// shared partials.
type pages struct {
	byName map[string]*template.Template
}

// funcs are the template functions.
var funcs = template.FuncMap{
	"time":     fmtTime,
	"timeP":    fmtTimePtr,
	"day":      func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"duration": fmtDuration,
	"percent":  fmtPercent,
	"number":   fmtNumber,
	"json":     prettyJSON,
	"field":    func(m map[string]string, k string) string { return m[k] },
	"has":      func(m map[string]string, k string) bool { return m[k] != "" },
	"state":    userState,
	"stateKey": userStateKey,
	"add":      func(a, b int) int { return a + b },
}

// parsePages parses every page. The templates are embedded, so an error
// is a programming error and panics.
func parsePages() *pages {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	p := &pages{byName: make(map[string]*template.Template)}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t := template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
		p.byName[name] = t
	}
	return p
}

// layout is what every page's frame needs.
type layout struct {
	Title  string
	Admin  *foyer.Admin
	CSRF   string
	Notice string
	Nav    []navItem
	Path   string
}

// navItem is one link of the navigation.
type navItem struct {
	Href    string
	Label   string
	Current bool
}

// notices are the messages shown after a redirect, by the key in the
// notice parameter: fixed texts, so a link cannot make the console say
// something else.
var notices = map[string]string{
	"welcome":          "Foyer is set up and you are signed in.",
	"data-saved":       "The profile data was saved.",
	"session-revoked":  "The session was revoked.",
	"tokens-revoked":   "Every token and session of this user was revoked.",
	"user-deleted":     "The user was deleted.",
	"user-converted":   "The user is now registered.",
	"webhook-enabled":  "The webhook was enabled.",
	"webhook-disabled": "The webhook was disabled.",
	"redelivered":      "The delivery was queued again.",
	"keys-rotated":     "A new signing key signs from now on.",
	"api-key-revoked":  "The API key was revoked.",
	"app-deleted":      "The application was deleted.",
	"totp-enabled":     "Two-step verification is on.",
	"totp-disabled":    "Two-step verification is off.",
}

// layout returns the frame of a page titled title for r.
func (h *Handler) layout(r *http.Request, title string) layout {
	l := layout{Title: title, Path: r.URL.Path, Notice: notices[r.URL.Query().Get("notice")]}
	s := sessionFromContext(r.Context())
	if s == nil {
		return l
	}
	l.Admin, l.CSRF = s.Admin, s.CSRF
	add := func(href, label string, ok bool) {
		if !ok {
			return
		}
		cur := r.URL.Path == href || (href != "/admin/" && strings.HasPrefix(r.URL.Path, href))
		l.Nav = append(l.Nav, navItem{Href: href, Label: label, Current: cur})
	}
	add("/admin/", "Dashboard", true)
	add("/admin/users", "Users", true)
	add("/admin/webhooks", "Webhooks", h.deps.Webhooks != nil)
	add("/admin/keys", "Signing keys", h.deps.ListKeys != nil)
	add("/admin/api-keys", "API keys", h.deps.APIKeys != nil)
	add("/admin/apps", "Applications", h.deps.Apps != nil)
	add("/admin/reaper", "Reaper", h.deps.Reap != nil)
	add("/admin/audit", "Audit log", true)
	add("/admin/mail", "Mailbox", h.mailboxOn())
	add("/admin/settings", "Settings", true)
	return l
}

// render writes the page name with data and status. The page is rendered
// into a buffer first, so a template error becomes a clean 500.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	t := h.pages.byName[name]
	var buf bytes.Buffer
	if t == nil {
		h.logger.ErrorContext(r.Context(), "admin: no such page", slog.String("page", name))
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		h.logger.ErrorContext(r.Context(), "admin: render page", slog.String("page", name), slog.Any("err", err))
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// stylesheet serves GET /admin/static/admin.css.
func (h *Handler) stylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(stylesheet)
}

// fmtTime formats t in UTC to the minute.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// fmtTimePtr formats t, or "—" for nil.
func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return fmtTime(*t)
}

// fmtDuration formats d for people: "45 s", "12 min", "5 h 20 min",
// "3 d 4 h".
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0 s"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	default:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return fmt.Sprintf("%d d", days)
		}
		return fmt.Sprintf("%d d %d h", days, h)
	}
}

// fmtPercent formats a ratio as a percentage with one decimal.
func fmtPercent(f float64) string { return fmt.Sprintf("%.1f %%", f*100) }

// fmtNumber formats n with thin spaces between thousands.
func fmtNumber(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// prettyJSON indents a JSON document for reading; invalid JSON is
// returned as it is.
func prettyJSON(b json.RawMessage) string {
	if len(b) == 0 {
		return "{}"
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return string(b)
	}
	return buf.String()
}

// userStateKey is the one-word key of u's state, for class names.
func userStateKey(u *foyer.User) string {
	switch {
	case !u.Anonymous:
		return stateRegistered
	case u.PendingEmail != "":
		return statePending
	default:
		return stateAnonymous
	}
}

// userState names the lifecycle state of u.
func userState(u *foyer.User) string {
	switch {
	case !u.Anonymous:
		return "registered"
	case u.PendingEmail != "":
		return "pending conversion"
	default:
		return "anonymous"
	}
}

package admin

import (
	"bytes"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	"github.com/google/go-cmp/cmp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func TestParseUserQuery(t *testing.T) {
	day := func(s string) *time.Time {
		d, _ := time.Parse("2006-01-02", s)
		return &d
	}
	yes, no := true, false
	email := "ann@example.com"
	id := "0195a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b"
	tests := []struct {
		name       string
		query      string
		wantFilter foyer.UserFilter
		wantID     string
		wantErrs   []string
	}{
		{"OKEmpty", "", foyer.UserFilter{}, "", nil},
		{"OKEmail", "q=+Ann@Example.COM+", foyer.UserFilter{Email: &email}, "", nil},
		{"OKID", "q=" + strings.ToUpper(id), foyer.UserFilter{}, id, nil},
		{"OKAnonymous", "state=anonymous", foyer.UserFilter{Anonymous: &yes}, "", nil},
		{"OKPending", "state=pending", foyer.UserFilter{Anonymous: &yes}, "", nil},
		{"OKRegistered", "state=registered", foyer.UserFilter{Anonymous: &no}, "", nil},
		{"OKRanges", "created_from=2026-03-01&created_to=2026-03-02&active_to=2026-03-05", foyer.UserFilter{
			CreatedAfter:  ptr(day("2026-03-01").Add(-time.Millisecond)),
			CreatedBefore: day("2026-03-03"),
			InactiveSince: day("2026-03-06"),
		}, "", nil},
		{"OKCursor", "after=" + id, foyer.UserFilter{After: id}, "", nil},
		{"ErrSearch", "q=not-an-address", foyer.UserFilter{}, "", []string{"q"}},
		{"ErrState", "state=merged", foyer.UserFilter{}, "", []string{"state"}},
		{"ErrDates", "created_from=03/01/2026&active_from=yesterday", foyer.UserFilter{}, "", []string{"active_from", "created_from"}},
		{"ErrCursor", "after=x", foyer.UserFilter{}, "", []string{"after"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := url.ParseQuery(tt.query)
			q, errs := parseUserQuery(v)
			if diff := cmp.Diff(tt.wantFilter, q.filter); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
			if q.id != tt.wantID {
				t.Errorf("id = %q, want %q", q.id, tt.wantID)
			}
			var got []string
			for k := range errs {
				got = append(got, k)
			}
			if diff := cmp.Diff(tt.wantErrs, got, cmpSorted); diff != "" {
				t.Errorf("error fields (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpSorted = cmp.Transformer("sort", func(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
})

func ptr[T any](v T) *T { return &v }

func TestUserQueryKeep(t *testing.T) {
	now := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	anon := &foyer.User{Anonymous: true, LastSeenAt: now}
	pending := &foyer.User{Anonymous: true, PendingEmail: "p@example.com", LastSeenAt: now}
	old := &foyer.User{Anonymous: true, LastSeenAt: now.AddDate(0, 0, -10)}
	tests := []struct {
		query string
		user  *foyer.User
		want  bool
	}{
		{"state=anonymous", anon, true},
		{"state=anonymous", pending, false},
		{"state=pending", pending, true},
		{"state=pending", anon, false},
		{"active_from=2026-03-01", anon, true},
		{"active_from=2026-03-01", old, false},
		{"", old, true},
	}
	for _, tt := range tests {
		v, _ := url.ParseQuery(tt.query)
		q, _ := parseUserQuery(v)
		if got := q.keep(tt.user); got != tt.want {
			t.Errorf("%q keep(%+v) = %v, want %v", tt.query, tt.user, got, tt.want)
		}
	}
}

// FuzzParseUserQuery checks that any query parses without panicking, that
// what it keeps round-trips through the links it makes, and that a cursor
// or id it accepts looks like a UUID.
func FuzzParseUserQuery(f *testing.F) {
	f.Add("q=ann%40example.com&state=pending&created_from=2026-01-01&active_to=2026-02-01")
	f.Add("q=0195a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b&after=0195a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b")
	f.Add("state=registered&active_from=1999-12-31")
	f.Add("q=%00&state=%ff")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, errs := parseUserQuery(v)
		if q.filter.After != "" && !isUUID(q.filter.After) {
			t.Fatalf("cursor %q accepted", q.filter.After)
		}
		if q.id != "" && !isUUID(q.id) {
			t.Fatalf("id %q accepted", q.id)
		}
		if q.filter.Email != nil {
			if e, err := foyer.NormalizeEmail(*q.filter.Email); err != nil || e != *q.filter.Email {
				t.Fatalf("email %q not normalised", *q.filter.Email)
			}
		}
		if len(errs) > 0 {
			return
		}
		q2, errs2 := parseUserQuery(q.values())
		if len(errs2) > 0 {
			t.Fatalf("links of %q do not parse: %v", raw, errs2)
		}
		q.After, q.filter.After = "", ""
		if diff := cmp.Diff(q.filter, q2.filter); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", raw, diff)
		}
	})
}

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/admin/users?state=pending", "/admin/users?state=pending"},
		{"/admin/", "/admin/"},
		{"", "/admin/"},
		{"https://evil.example/admin/", "/admin/"},
		{"//evil.example/admin/", "/admin/"},
		{"/admin/../x", "/admin/"},
		{"/admin/%2e%2e/x", "/admin/"},
		{"/admin/\\evil", "/admin/"},
		{"/admin/login?next=/admin/", "/admin/"},
		{"/v1/users", "/admin/"},
	}
	for _, tt := range tests {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzSafeNext checks that the redirect after sign-in never leaves the
// console's path on the same origin.
func FuzzSafeNext(f *testing.F) {
	f.Add("/admin/users")
	f.Add("//evil.example")
	f.Add("/admin/%2F%2Fevil")
	f.Add("/admin/\r\nLocation: x")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/admin/") || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
		u, err := url.Parse(got)
		if err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("safeNext(%q) = %q leaves the origin", next, got)
		}
	})
}

func TestTOTPCode(t *testing.T) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Foyer", AccountName: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	secret := key.Secret()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	code := func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	h := &Handler{totpUsed: newUsedSteps()}
	t.Run("OK", func(t *testing.T) {
		if !h.checkTOTPSecret("a", secret, code(now), now) {
			t.Fatal("current code refused")
		}
	})
	t.Run("ErrReplay", func(t *testing.T) {
		if h.checkTOTPSecret("a", secret, code(now), now) {
			t.Fatal("a code was accepted twice")
		}
	})
	t.Run("OKSpacesAndDrift", func(t *testing.T) {
		c := code(now.Add(30 * time.Second))
		if !h.checkTOTPSecret("a", secret, c[:3]+" "+c[3:], now) {
			t.Fatal("next step's code refused")
		}
	})
	t.Run("ErrTooOld", func(t *testing.T) {
		if h.checkTOTPSecret("b", secret, code(now.Add(-2*time.Minute)), now) {
			t.Fatal("a code two minutes old was accepted")
		}
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		for _, c := range []string{"", "12345", "1234567", "abcdef"} {
			if h.checkTOTPSecret("c", secret, c, now) {
				t.Fatalf("code %q accepted", c)
			}
		}
		if h.checkTOTPSecret("c", "not base32!", code(now), now) {
			t.Fatal("a malformed secret was accepted")
		}
	})
	t.Run("OKURI", func(t *testing.T) {
		h := &Handler{cfg: Config{TOTPIssuer: "Foyer Test"}}
		k, err := otp.NewKeyFromURL(h.totpURI("a+b@example.com", secret))
		if err != nil {
			t.Fatal(err)
		}
		if k.Secret() != secret || k.Issuer() != "Foyer Test" || k.AccountName() != "a+b@example.com" || k.Period() != 30 {
			t.Fatalf("uri %q read back as %q %q %q %d", k.String(), k.Secret(), k.Issuer(), k.AccountName(), k.Period())
		}
	})
}

func TestLimits(t *testing.T) {
	l := newLimits()
	ip := netip.MustParseAddr("192.0.2.1")
	now := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	for range SignInFailuresPerEmail {
		if ok, _ := l.allowed(ip, "a@example.com", now); !ok {
			t.Fatal("limited too early")
		}
		l.failed(ip, "a@example.com", now)
	}
	ok, wait := l.allowed(ip, "a@example.com", now)
	if ok || wait <= 0 {
		t.Fatalf("allowed = %v, %v after %d failures", ok, wait, SignInFailuresPerEmail)
	}
	if ok, _ := l.allowed(ip, "b@example.com", now); !ok {
		t.Fatal("another address from the same IP is limited")
	}
	if ok, _ := l.allowed(ip, "a@example.com", now.Add(SignInFailureWindow)); !ok {
		t.Fatal("still limited after the window")
	}
}

func TestNiceScale(t *testing.T) {
	tests := []struct{ max, top, step int64 }{
		{0, 4, 1}, {1, 1, 1}, {3, 3, 1}, {7, 8, 2}, {10, 10, 5}, {37, 40, 10}, {1234, 1500, 500},
	}
	for _, tt := range tests {
		top, step := niceScale(tt.max)
		if top != tt.top || step != tt.step {
			t.Errorf("niceScale(%d) = %d, %d, want %d, %d", tt.max, top, step, tt.top, tt.step)
		}
		if top < tt.max || top%step != 0 {
			t.Errorf("niceScale(%d) = %d, %d is not a scale", tt.max, top, step)
		}
	}
}

func TestDailyBarChart(t *testing.T) {
	d0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	days := []foyer.DayCount{{Day: d0, Count: 4}, {Day: d0.AddDate(0, 0, 1), Count: 0}, {Day: d0.AddDate(0, 0, 2), Count: 8}}
	c := dailyBarChart("c", "Created", "accounts", days)
	if len(c.Bars) != 3 {
		t.Fatalf("%d bars, want 3", len(c.Bars))
	}
	// The tallest bar fills the plot; a zero bar has no height; bars
	// stand on the x axis.
	if c.Bars[2].H != r1(c.PlotH) || c.Bars[1].H != 0 || c.Bars[0].H != r1(c.PlotH/2) {
		t.Fatalf("heights %v %v %v, plot %v", c.Bars[0].H, c.Bars[1].H, c.Bars[2].H, c.PlotH)
	}
	for _, b := range c.Bars {
		if b.Y+b.H != c.Bottom() {
			t.Errorf("bar %+v does not stand on the axis at %v", b, c.Bottom())
		}
	}
	if c.Bars[2].Title != "2026-03-03: 8 accounts" {
		t.Errorf("title = %q", c.Bars[2].Title)
	}
	want := [][]string{{"2026-03-01", "4"}, {"2026-03-02", "0"}, {"2026-03-03", "8"}}
	if diff := cmp.Diff(want, c.Table.Rows); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestMonthlyCSV(t *testing.T) {
	m := &MonthlyActiveUsers{Rule: BillingCreatedMonth, Months: []MonthCount{
		{Month: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Anonymous: 3, Registered: 1, Total: 4},
	}}
	var buf bytes.Buffer
	if err := m.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	want := "month,anonymous,registered,total,rule\n2026-02,3,1,4,created_month\n"
	if buf.String() != want {
		t.Fatalf("csv = %q, want %q", buf.String(), want)
	}
}

func TestFormats(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtNumber(0), "0"},
		{fmtNumber(1234567), "1\u202f234\u202f567"},
		{fmtNumber(-1000), "-1\u202f000"},
		{fmtDuration(45 * time.Second), "45 s"},
		{fmtDuration(90 * time.Minute), "1 h 30 min"},
		{fmtDuration(49 * time.Hour), "2 d 1 h"},
		{fmtPercent(0.25), "25.0 %"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if diff := cmp.Diff([]string{"up to 1 h", "1 h to 1 d", "1 d to 7 d", "7 d to 30 d", "30 d to 90 d", "over 90 d"}, bucketLabels()); diff != "" {
		t.Errorf("bucket labels (-want +got):\n%s", diff)
	}
}

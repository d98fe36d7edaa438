package http_test

import (
	"encoding/json"
	"net/netip"
	"testing"

	foyer "github.com/foyerhq/foyer"
)

// FuzzUserPatchHandler sends arbitrary bodies to PATCH /v1/me and checks
// that the handler never fails with a 5xx, never changes a marker, and
// that whatever it accepts leaves data a JSON object.
func FuzzUserPatchHandler(f *testing.F) {
	for _, seed := range []string{
		`{"data":{"a":1}}`,
		`{"data":null}`,
		`{"anonymous":false}`,
		`{"Anonymous":false}`,
		`{"data":{"anonymous":false}}`,
		`{"data":{"a":{"b":null}},"data":{"c":1}}`,
		`{"\u0061nonymous":false}`,
		`{"data":[]}`,
		`{}`,
		`null`,
		`[]`,
		`{"data":{}} x`,
		``,
	} {
		f.Add(seed)
	}
	ts := setup(f)
	s := ts.signup(f)
	auth := join(mergePatchType, bearer(s.Token))
	f.Fuzz(func(t *testing.T, body string) {
		w := ts.do("PATCH", "/v1/me", body, auth...)
		if w.Code >= 500 {
			t.Fatalf("PATCH %q: status %d %s", body, w.Code, w.Body)
		}
		errorCode(t, w) // a refusal has the error shape
		u := ts.findUser(t, s.User.ID)
		if !u.Anonymous || u.EmailVerified || u.Email != "" {
			t.Fatalf("PATCH %q changed a marker: %+v", body, u)
		}
		var data map[string]any
		if err := json.Unmarshal(u.Data, &data); err != nil || data == nil {
			t.Fatalf("PATCH %q left data %s", body, u.Data)
		}
	})
}

// FuzzRedeemLink sends arbitrary bodies to the two routes that redeem a
// mailed link and checks that they never fail with a 5xx, refuse with the
// error shape, and never convert an account or change its password
// without the link's own token.
func FuzzRedeemLink(f *testing.F) {
	for _, seed := range []string{
		`{"token":"x","password":"correct horse battery"}`,
		`{"token":"","password":"correct horse battery"}`,
		`{"token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","password":"short"}`,
		`{"token":null,"password":null}`,
		`{"token":["x"],"password":"correct horse battery"}`,
		`{"token":"x","password":"\ud800\udc00\ud800 broken"}`,
		`{"token":"x"}`,
		`{}`,
		``,
	} {
		f.Add(seed)
	}
	ts := setup(f)
	s := ts.signup(f)
	ts.convert(f, s.Token, "ann@example.org")
	owner := ts.register(f, "owner@example.org", "")
	check(f, ts.do("POST", "/v1/password/forgot", `{"email":"owner@example.org"}`, jsonType...), 202, "")
	before := ts.findUser(f, owner)
	// Each input comes from its own address, so that the limit of failed
	// redemptions per address does not hide the handler behind a 429.
	next := netip.MustParseAddr("10.0.0.0")
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v1/convert/complete", "/v1/password/reset"} {
			next = next.Next()
			r := request("POST", path, body, join(jsonType, withCookie(s.Token))...)
			r.RemoteAddr = netip.AddrPortFrom(next, 1).String()
			w := ts.serve(r)
			if w.Code >= 500 {
				t.Fatalf("POST %s %q: status %d %s", path, body, w.Code, w.Body)
			}
			errorCode(t, w)
		}
		if u := ts.findUser(t, s.User.ID); !u.Anonymous || u.HasPassword || u.Email != "" {
			t.Fatalf("%q converted the user: %+v", body, u)
		}
		if u := ts.findUser(t, owner); u.Epoch != before.Epoch || u.Version != before.Version {
			t.Fatalf("%q reset the password: %+v", body, u)
		}
		if ts.newestMail(t, "owner@example.org", foyer.MailPasswordReset) == nil {
			t.Fatal("the reset link is gone")
		}
	})
}

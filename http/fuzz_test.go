package http_test

import (
	"encoding/json"
	"testing"
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

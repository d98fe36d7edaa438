package foyer_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/foyerhq/foyer"
)

func TestMergePatch(t *testing.T) {
	// The cases of RFC 7396 Appendix A whose target is an object, plus
	// the rules Foyer adds (result is an object, depth is bounded).
	tests := []struct {
		name, target, patch, want string
		wantCode                  string
	}{
		{"OK/ReplaceMember", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`, ""},
		{"OK/AddMember", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`, ""},
		{"OK/RemoveMember", `{"a":"b"}`, `{"a":null}`, `{}`, ""},
		{"OK/RemoveOneOfTwo", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`, ""},
		{"OK/ArrayReplaced", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`, ""},
		{"OK/ValueToArray", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`, ""},
		{"OK/Nested", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`, ""},
		{"OK/ArrayOfObjectsReplaced", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`, ""},
		{"OK/NullInsideNewObjectDropped", `{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`, ""},
		{"OK/EmptyTarget", ``, `{"a":1}`, `{"a":1}`, ""},
		{"OK/NullPatchResets", `{"a":1}`, `null`, `{}`, ""},
		{"OK/BigNumbersExact", `{}`, `{"n":12345678901234567890}`, `{"n":12345678901234567890}`, ""},
		{"ErrInvalid/NotObject", `{"a":1}`, `["c"]`, ``, foyer.EInvalid},
		{"ErrInvalid/Scalar", `{"a":1}`, `"x"`, ``, foyer.EInvalid},
		{"ErrMalformed", `{}`, `{"a":`, ``, foyer.EMalformedJSON},
		{"ErrMalformed/Trailing", `{}`, `{} {}`, ``, foyer.EMalformedJSON},
		{"ErrInvalid/TooDeep", `{}`, deep(foyer.MaxDataDepth + 1), ``, foyer.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := foyer.MergePatch(json.RawMessage(tt.target), json.RawMessage(tt.patch))
			if code := foyer.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("code=%q (%v), want %q", code, err, tt.wantCode)
			}
			if tt.wantCode == "" && !jsonEqual(t, got, []byte(tt.want)) {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseUserPatch(t *testing.T) {
	tests := []struct {
		name, body, want, wantCode string
	}{
		{"OK", `{"data":{"cart":[1]}}`, `{"cart":[1]}`, ""},
		{"OK/NullData", `{"data":null}`, `null`, ""},
		{"OK/Empty", `{}`, `{}`, ""},
		// Markers are server-owned: no member but data, in any casing.
		{"ErrForbidden/Anonymous", `{"anonymous":false}`, ``, foyer.EForbidden},
		{"ErrForbidden/Casing", `{"Anonymous":false,"data":{}}`, ``, foyer.EForbidden},
		{"ErrForbidden/Email", `{"email":"a@b.co"}`, ``, foyer.EForbidden},
		{"ErrForbidden/EmailVerified", `{"email_verified":true}`, ``, foyer.EForbidden},
		{"ErrForbidden/ID", `{"id":"x"}`, ``, foyer.EForbidden},
		{"ErrInvalid/DataNotObject", `{"data":[1]}`, ``, foyer.EInvalid},
		{"ErrInvalid/NotObject", `null`, ``, foyer.EInvalid},
		{"ErrMalformed", `{"data":`, ``, foyer.EMalformedJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := foyer.ParseUserPatch([]byte(tt.body))
			if code := foyer.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("code=%q (%v), want %q", code, err, tt.wantCode)
			}
			if tt.wantCode == "" && !jsonEqual(t, got, []byte(tt.want)) {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestMergeData(t *testing.T) {
	reg := `{"name":"Ann","prefs":{"theme":"dark"},"cart":[1]}`
	anon := `{"name":"Guest","prefs":{"lang":"fr","theme":"light"},"watched":3}`
	tests := []struct {
		policy   foyer.MergePolicy
		want     string
		wantCode string
	}{
		{foyer.MergeRegisteredWins, `{"name":"Ann","prefs":{"theme":"dark","lang":"fr"},"cart":[1],"watched":3}`, ""},
		{"", `{"name":"Ann","prefs":{"theme":"dark","lang":"fr"},"cart":[1],"watched":3}`, ""},
		{foyer.MergeAnonymousWins, `{"name":"Guest","prefs":{"theme":"light","lang":"fr"},"cart":[1],"watched":3}`, ""},
		{foyer.MergeKeepRegistered, reg, ""},
		{"bogus", "", foyer.EInvalid},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			got, err := foyer.MergeData(json.RawMessage(reg), json.RawMessage(anon), tt.policy)
			if code := foyer.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("code=%q, want %q", code, tt.wantCode)
			}
			if tt.wantCode == "" && !jsonEqual(t, got, []byte(tt.want)) {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// FuzzMergePatch checks that MergePatch never panics, that whatever it
// accepts is a JSON object, and that applying the same patch twice gives
// the same result (merge patches are idempotent).
func FuzzMergePatch(f *testing.F) {
	f.Add(`{"a":{"b":1}}`, `{"a":{"b":null,"c":[1]}}`)
	f.Add(`{}`, `null`)
	f.Add(``, `{"x":"y"}`)
	f.Add(`{"a":1}`, `[1]`)
	f.Fuzz(func(t *testing.T, target, patch string) {
		once, err := foyer.MergePatch(json.RawMessage(target), json.RawMessage(patch))
		if err != nil {
			if foyer.ErrorCode(err) == foyer.EInternal {
				t.Fatalf("internal error for user input: %v", err)
			}
			return
		}
		var obj map[string]any
		if err := json.Unmarshal(once, &obj); err != nil || obj == nil {
			t.Fatalf("accepted result is not an object: %s", once)
		}
		twice, err := foyer.MergePatch(once, json.RawMessage(patch))
		if err != nil {
			t.Fatalf("second application failed: %v", err)
		}
		if !jsonEqual(t, once, twice) {
			t.Fatalf("not idempotent: %s then %s", once, twice)
		}
	})
}

// FuzzParseUserPatch checks that no accepted patch reaches any member of
// the user document but data.
func FuzzParseUserPatch(f *testing.F) {
	f.Add(`{"data":{"a":1}}`)
	f.Add(`{"anonymous":false}`)
	f.Add(`{"data":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		p, err := foyer.ParseUserPatch([]byte(body))
		if err != nil {
			return
		}
		var doc map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &doc) != nil {
			t.Fatalf("accepted a body that is not an object: %q", body)
		}
		for k := range doc {
			if k != "data" {
				t.Fatalf("accepted member %q", k)
			}
		}
		if string(p) != "null" && (len(p) == 0 || p[0] != '{') {
			t.Fatalf("data patch is not an object or null: %s", p)
		}
	})
}

func deep(n int) string {
	s := "1"
	for range n {
		s = `{"a":` + s + `}`
	}
	return s
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

func TestTimeToConvertJSON(t *testing.T) {
	b, err := json.Marshal(foyer.TimeToConvert{Count: 2, Median: 90 * time.Minute, P90: 48 * time.Hour, Buckets: []int64{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"count":2,"median_seconds":5400,"p90_seconds":172800,"buckets":[0,1]}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}

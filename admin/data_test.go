package admin

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	foyer "github.com/foyerhq/foyer"
	"github.com/google/go-cmp/cmp"
)

func TestParseDataDocument(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		wantErr string // a substring of the message; "" means valid
	}{
		{"OK", `{"a": 1, "b": {"c": [1, null]}}`, ""},
		{"OKEmpty", `{}`, ""},
		{"OKSurroundingSpace", "\n  {\"a\": true}\n\n", ""},
		{"ErrEmpty", ``, "empty"},
		{"ErrNotObject", `[1, 2]`, "must be a JSON object"},
		{"ErrString", `"x"`, "must be a JSON object"},
		{"ErrSyntax", "{\n  \"a\": 1,\n  \"b\" 2\n}", "Line 3, column"},
		{"ErrUnclosed", "{\"a\": [1, 2", "ends too early"},
		{"ErrTrailing", `{"a": 1} {"b": 2}`, "more after the end"},
		{"ErrNullMember", `{"a": {"b": null}}`, `"a.b" is null`},
		{"ErrTopNull", `{"z": 1, "a": null}`, `"a" is null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseDataDocument(tt.text)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if foyer.ErrorCode(err) != foyer.EInvalid {
				t.Fatalf("code = %q, want %q (err %v)", foyer.ErrorCode(err), foyer.EInvalid, err)
			}
			if msg := foyer.ErrorMessage(err); !strings.Contains(msg, tt.wantErr) {
				t.Fatalf("message = %q, want it to contain %q", msg, tt.wantErr)
			}
		})
	}
}

func TestPosition(t *testing.T) {
	text := "ab\ncdé\nf"
	tests := []struct {
		off       int
		line, col int
	}{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {7, 2, 4}, {len(text), 3, 2}, {-5, 1, 1}, {100, 3, 2},
	}
	for _, tt := range tests {
		line, col := position(text, tt.off)
		if line != tt.line || col != tt.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tt.off, line, col, tt.line, tt.col)
		}
	}
}

func TestReplacementPatch(t *testing.T) {
	tests := []struct {
		name      string
		old, text string
		want      string
	}{
		{"OKNoChange", `{"a":1,"b":{"c":2}}`, `{"b": {"c": 2}, "a": 1}`, `{}`},
		{"OKRemove", `{"a":1,"b":2}`, `{"a":1}`, `{"b":null}`},
		{"OKNested", `{"b":{"c":2,"d":3}}`, `{"b":{"c":2,"e":4}}`, `{"b":{"d":null,"e":4}}`},
		{"OKArrayWhole", `{"a":[1,2,3]}`, `{"a":[1,2]}`, `{"a":[1,2]}`},
		{"OKObjectOverScalar", `{"a":1}`, `{"a":{"b":1}}`, `{"a":{"b":1}}`},
		{"OKFromEmpty", ``, `{"x":"y"}`, `{"x":"y"}`},
		{"OKToEmpty", `{"x":"y","z":[1]}`, `{}`, `{"x":null,"z":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := replacementPatch(json.RawMessage(tt.old), tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, got, []byte(tt.want)) {
				t.Fatalf("patch = %s, want %s", got, tt.want)
			}
			// Applying the patch gives the document typed.
			res, err := foyer.MergePatch(json.RawMessage(tt.old), got)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, res, []byte(tt.text)) {
				t.Fatalf("patched = %s, want %s", res, tt.text)
			}
		})
	}
}

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return cmp.Equal(va, vb)
}

// FuzzReplacementPatch checks that every document the editor accepts is
// what the stored data becomes once the patch is applied, whatever the
// stored data was.
func FuzzReplacementPatch(f *testing.F) {
	f.Add(`{"a":1,"b":{"c":[1,2]}}`, `{"a":2}`)
	f.Add(`{}`, `{"x":{"y":{"z":"w"}}}`)
	f.Add(`{"a":{"b":1}}`, `{"a":[{"b":null}]}`)
	f.Add(`{"a":1}`, `{"a":null}`)
	f.Add(`{"a":1}`, `not json`)
	f.Add(`{"n":1.50}`, `{"n":1.5}`)
	f.Fuzz(func(t *testing.T, old, text string) {
		var o map[string]any
		if json.Unmarshal([]byte(old), &o) != nil || o == nil {
			return
		}
		patch, err := replacementPatch(json.RawMessage(old), text)
		if err != nil {
			if foyer.ErrorCode(err) != foyer.EInvalid {
				t.Fatalf("code = %q for %q", foyer.ErrorCode(err), text)
			}
			return
		}
		res, err := foyer.MergePatch(json.RawMessage(old), patch)
		if err != nil {
			// Only the store's depth limit may refuse an accepted document.
			if foyer.ErrorCode(err) != foyer.EInvalid {
				t.Fatal(err)
			}
			return
		}
		var want, got any
		json.Unmarshal([]byte(text), &want)
		json.Unmarshal(res, &got)
		if !cmp.Equal(got, want) {
			t.Fatalf("old %s, text %s: patch %s gives %s", old, text, patch, res)
		}
		if bytes.Equal(patch, []byte("{}")) && !cmp.Equal(o, want) {
			t.Fatalf("empty patch for a changed document: %s → %s", old, text)
		}
	})
}

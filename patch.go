package foyer

import (
	"bytes"
	"encoding/json"
	"io"
)

// MaxDataDepth is how deeply profile data may nest.
const MaxDataDepth = 32

// ParseUserPatch checks an RFC 7396 merge patch of the user document that
// GET /v1/me returns and returns the part that applies to Data. Only "data"
// is writable by the person: a patch that names any other member, in any
// casing, is refused with EForbidden, so no patch can reach a marker.
// A patch of {"data": null} resets Data to {}.
func ParseUserPatch(body []byte) (json.RawMessage, error) {
	var doc map[string]json.RawMessage
	if err := decodeStrict(body, &doc); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, Errorf(EInvalid, "The patch must be a JSON object.")
	}
	for k := range doc {
		if k != "data" {
			return nil, Errorf(EForbidden, "Only data is writable; %q is owned by the server.", k)
		}
	}
	p, ok := doc["data"]
	if !ok {
		return json.RawMessage(`{}`), nil
	}
	if bytes.Equal(bytes.TrimSpace(p), []byte("null")) {
		return json.RawMessage(`null`), nil
	}
	if !isObject(p) {
		return nil, Errorf(EInvalid, "data must be an object or null.")
	}
	return p, nil
}

// MergePatch applies the RFC 7396 merge patch to target, which must be a
// JSON object (or empty, meaning {}), and returns the result. A null patch
// gives {}. Returns EInvalid if the result is not an object, is nested
// deeper than MaxDataDepth, or if either input is not valid JSON.
func MergePatch(target, patch json.RawMessage) (json.RawMessage, error) {
	var t any = map[string]any{}
	if len(bytes.TrimSpace(target)) > 0 {
		if err := decodeStrict(target, &t); err != nil {
			return nil, err
		}
	}
	var p any
	if err := decodeStrict(patch, &p); err != nil {
		return nil, err
	}
	res := mergeValue(t, p)
	obj, ok := res.(map[string]any)
	if !ok {
		if res != nil {
			return nil, Errorf(EInvalid, "data must be an object.")
		}
		obj = map[string]any{}
	}
	if depth(obj) > MaxDataDepth {
		return nil, Errorf(EInvalid, "data is nested deeper than %d levels.", MaxDataDepth)
	}
	return marshalCompact(obj)
}

func mergeValue(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergeValue(tm[k], v)
	}
	return tm
}

// MergePolicy decides which values win when an anonymous account's data is
// merged into a registered account's data.
type MergePolicy string

// Merge policies.
const (
	// MergeRegisteredWins deep-merges, keeping the registered account's
	// value wherever both have one. The default.
	MergeRegisteredWins MergePolicy = "registered_wins"
	// MergeAnonymousWins deep-merges, taking the anonymous account's value
	// wherever both have one.
	MergeAnonymousWins MergePolicy = "anonymous_wins"
	// MergeKeepRegistered discards the anonymous account's data.
	MergeKeepRegistered MergePolicy = "keep_registered"
)

// Valid reports whether p is a known policy.
func (p MergePolicy) Valid() bool {
	switch p {
	case MergeRegisteredWins, MergeAnonymousWins, MergeKeepRegistered:
		return true
	}
	return false
}

// MergeData combines the data of an anonymous account into the data of a
// registered account under policy. Both must be JSON objects.
func MergeData(registered, anonymous json.RawMessage, policy MergePolicy) (json.RawMessage, error) {
	var r, a map[string]any
	if err := decodeObject(registered, &r); err != nil {
		return nil, err
	}
	if err := decodeObject(anonymous, &a); err != nil {
		return nil, err
	}
	var out map[string]any
	switch policy {
	case MergeKeepRegistered:
		out = r
	case MergeAnonymousWins:
		out = deepMerge(r, a)
	case MergeRegisteredWins, "":
		out = deepMerge(a, r)
	default:
		return nil, Errorf(EInvalid, "Unknown merge policy %q.", policy)
	}
	return marshalCompact(out)
}

// deepMerge returns base with over laid on top: objects merge key by key,
// any other value in over replaces the one in base.
func deepMerge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		bo, ok1 := out[k].(map[string]any)
		oo, ok2 := v.(map[string]any)
		if ok1 && ok2 {
			out[k] = deepMerge(bo, oo)
			continue
		}
		out[k] = v
	}
	return out
}

func decodeObject(b json.RawMessage, v *map[string]any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		*v = map[string]any{}
		return nil
	}
	if err := decodeStrict(b, v); err != nil {
		return err
	}
	if *v == nil {
		*v = map[string]any{}
	}
	return nil
}

// decodeStrict decodes exactly one JSON value, keeping numbers exact.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return &Error{Code: EMalformedJSON, Message: "The body is not valid JSON.", Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(EMalformedJSON, "The body holds more than one JSON value.")
	}
	return nil
}

func marshalCompact(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

func depth(v any) int {
	switch x := v.(type) {
	case map[string]any:
		d := 0
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	case []any:
		d := 0
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}

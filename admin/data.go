package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	foyer "github.com/foyerhq/foyer"
)

// parseDataDocument reads the profile data an admin typed: one JSON
// object, with no null members (a merge patch cannot store them: null
// removes a member). Errors are EInvalid with a message that says where
// the problem is, for showing beside the editor.
func parseDataDocument(text string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, foyer.Errorf(foyer.EInvalid, "The data is empty; write {} for no data.")
		}
		return nil, jsonError(text, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		line, col := position(text, int(dec.InputOffset()))
		return nil, foyer.Errorf(foyer.EInvalid, "Line %d, column %d: there is more after the end of the object.", line, col)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, foyer.Errorf(foyer.EInvalid, "The data must be a JSON object, in braces { }.")
	}
	if p := nullMember(obj, ""); p != "" {
		return nil, foyer.Errorf(foyer.EInvalid, "%s is null. Null values cannot be stored: remove the member instead.", p)
	}
	return obj, nil
}

// jsonError turns a decoding error into a message with line and column.
func jsonError(text string, err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		// Offset counts the bytes read, the offending one included.
		line, col := position(text, int(se.Offset)-1)
		return foyer.Errorf(foyer.EInvalid, "Line %d, column %d: %s.", line, col, strings.TrimPrefix(se.Error(), "json: "))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		line, col := position(text, len(text))
		return foyer.Errorf(foyer.EInvalid, "Line %d, column %d: the JSON ends too early; a brace, bracket or quote is not closed.", line, col)
	}
	return foyer.Errorf(foyer.EInvalid, "The data is not valid JSON.")
}

// position returns the 1-based line and column (in characters) of byte
// offset off of text.
func position(text string, off int) (line, col int) {
	off = max(0, min(off, len(text)))
	before := text[:off]
	line = strings.Count(before, "\n") + 1
	if i := strings.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, len([]rune(before)) + 1
}

// nullMember returns the path of the first null member of obj, or "".
// Members of objects inside arrays are not checked: a merge patch replaces
// an array whole, nulls included.
func nullMember(obj map[string]any, prefix string) string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := prefix + "." + k
		if prefix == "" {
			p = k
		}
		switch v := obj[k].(type) {
		case nil:
			return fmt.Sprintf("%q", p)
		case map[string]any:
			if q := nullMember(v, p); q != "" {
				return q
			}
		}
	}
	return ""
}

// diffPatch returns the RFC 7396 merge patch that turns old into new:
// members of old missing from new become null, changed members are given
// whole, except objects on both sides, which are diffed member by member.
// new must have no null members (parseDataDocument checks).
func diffPatch(old, new map[string]any) map[string]any {
	p := map[string]any{}
	for k := range old {
		if _, ok := new[k]; !ok {
			p[k] = nil
		}
	}
	for k, nv := range new {
		if ov, ok := old[k]; ok {
			om, oObj := ov.(map[string]any)
			nm, nObj := nv.(map[string]any)
			if oObj && nObj {
				if d := diffPatch(om, nm); len(d) > 0 {
					p[k] = d
				}
				continue
			}
			if reflect.DeepEqual(ov, nv) {
				continue
			}
		}
		p[k] = nv
	}
	return p
}

// decodeData decodes stored profile data; empty data is {}.
func decodeData(b json.RawMessage) (map[string]any, error) {
	m := map[string]any{}
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode stored data: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// replacementPatch returns the merge patch that replaces the stored data
// old with the document text, or an EInvalid error that explains what is
// wrong with text. An empty patch ({}) means nothing changes.
func replacementPatch(old json.RawMessage, text string) (json.RawMessage, error) {
	doc, err := parseDataDocument(text)
	if err != nil {
		return nil, err
	}
	cur, err := decodeData(old)
	if err != nil {
		return nil, err
	}
	return json.Marshal(diffPatch(cur, doc))
}

package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// Media types the API accepts.
const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

// requireMediaType returns EUnsupportedMediaType unless the request's
// Content-Type is want (parameters such as charset are allowed).
func requireMediaType(r *http.Request, want string) error {
	ct := r.Header.Get("Content-Type")
	if ct == want {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == want {
		return nil
	}
	return foyer.Errorf(foyer.EUnsupportedMediaType, "The body must be sent as %s.", want)
}

// readBody reads the whole body, at most MaxBodyBytes of it (ETooLarge
// beyond).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge(limit)
		}
		return nil, &foyer.Error{Code: foyer.EMalformedJSON, Message: "The body could not be read.", Err: err}
	}
	return b, nil
}

func tooLarge(limit int64) error {
	return foyer.Errorf(foyer.ETooLarge, "The body is larger than %d bytes.", limit)
}

// decodeJSON decodes a required application/json body into v. Unknown
// fields, trailing data and a body over MaxBodyBytes are refused.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := requireMediaType(r, mediaJSON); err != nil {
		return err
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	return decodeStrict(b, v)
}

// decodeOptionalJSON is decodeJSON for a body that may be absent. It
// reports whether there was one.
func (s *Server) decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) (bool, error) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return false, nil
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return false, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return false, nil
	}
	if err := requireMediaType(r, mediaJSON); err != nil {
		return false, err
	}
	return true, decodeStrict(b, v)
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields. Numbers in untyped values stay exact (json.Number).
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return &foyer.Error{Code: foyer.EInvalid, Message: "The value of " + strconv.Quote(te.Field) + " has the wrong type.", Err: err}
		}
		if errors.Is(err, io.EOF) {
			return foyer.Errorf(foyer.EMalformedJSON, "The body is empty.")
		}
		msg := "The body is not valid JSON."
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			msg = "The body has an unknown field: " + strings.TrimPrefix(err.Error(), "json: unknown field ") + "."
		}
		return &foyer.Error{Code: foyer.EMalformedJSON, Message: msg, Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return foyer.Errorf(foyer.EMalformedJSON, "The body holds more than one JSON value.")
	}
	return nil
}

// writeJSON writes v as the JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeBody(w, status, append(b, '\n'))
	return nil
}

// writeBody writes b, a JSON document and its newline, as the body with
// status.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", mediaJSON)
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	w.Write(b) // a failed write is the client's departure, not ours to report
}

// The user document is the body of the busiest answers (sign-up, GET and
// PATCH /v1/me), so it is written by hand into a pooled buffer rather
// than by reflection. The output is byte for byte what json.Marshal
// writes for the same *foyer.User (FuzzAppendUser checks it); anything
// the fast paths are not sure of goes through encoding/json.

// maxPooledBody is the largest buffer kept for reuse; the rare user with
// large data gets a buffer of its own.
const maxPooledBody = 16 << 10

// bodyBuffer returns an empty buffer from the pool.
func (s *Server) bodyBuffer() *[]byte {
	if b, ok := s.bodies.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 1024)
	return &b
}

// releaseBody returns b to the pool.
func (s *Server) releaseBody(b *[]byte) {
	if cap(*b) <= maxPooledBody {
		s.bodies.Put(b)
	}
}

// writeUserBody writes the JSON document that appendDoc appends, and a
// newline, as the body with status.
func (s *Server) writeUserBody(w http.ResponseWriter, status int, appendDoc func([]byte) ([]byte, error)) error {
	buf := s.bodyBuffer()
	defer s.releaseBody(buf)
	b, err := appendDoc(*buf)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	*buf = b
	writeBody(w, status, b)
	return nil
}

// appendUser appends the JSON of userDoc(u) as json.Marshal writes it.
func appendUser(b []byte, u *foyer.User) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = appendJSONString(b, u.ID)
	b = append(b, `,"anonymous":`...)
	b = strconv.AppendBool(b, u.Anonymous)
	if u.Email != "" {
		b = append(b, `,"email":`...)
		b = appendJSONString(b, u.Email)
	}
	b = append(b, `,"email_verified":`...)
	b = strconv.AppendBool(b, u.EmailVerified)
	if u.PendingEmail != "" {
		b = append(b, `,"pending_email":`...)
		b = appendJSONString(b, u.PendingEmail)
	}
	b = append(b, `,"data":`...)
	data := u.Data
	if len(data) == 0 {
		data = emptyObject
	}
	if b, err = appendRawJSON(b, data); err != nil {
		return nil, err
	}
	b = append(b, `,"created_at":`...)
	if b, err = appendJSONTime(b, u.CreatedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = appendJSONTime(b, u.UpdatedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"last_seen_at":`...)
	if b, err = appendJSONTime(b, u.LastSeenAt); err != nil {
		return nil, err
	}
	if u.ConvertedAt != nil {
		b = append(b, `,"converted_at":`...)
		if b, err = appendJSONTime(b, *u.ConvertedAt); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string, as json.Marshal writes it.
// Printable ASCII other than the characters it escapes is copied as is;
// any other string is left to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRawJSON appends raw as json.Marshal writes a json.RawMessage: it
// must be valid, and it is compacted, with <, >, & and U+2028, U+2029
// escaped. Raw JSON with no whitespace outside strings and none of those
// characters is already in that form and is copied.
func appendRawJSON(b []byte, raw json.RawMessage) ([]byte, error) {
	if compactSafe(raw) && json.Valid(raw) {
		return append(b, raw...), nil
	}
	q, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	return append(b, q...), nil
}

// compactSafe reports whether raw has no whitespace outside strings and
// none of the bytes that json.Marshal would escape in a json.RawMessage
// (<, >, &, and 0xE2, the first byte of U+2028 and U+2029). It does not
// check that raw is valid JSON.
func compactSafe(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '<', '>', '&', 0xE2:
			return false
		case ' ', '\t', '\n', '\r':
			if !inString {
				return false
			}
		case '"':
			inString = !inString
		case '\\':
			if inString {
				i++ // the escaped byte, which may be a quote
			}
		}
	}
	return true
}

// appendJSONTime appends t as json.Marshal writes a time.Time: RFC 3339
// with nanoseconds, quoted, failing for years outside 0 to 9999.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, err
	}
	return append(b, '"'), nil
}

// emptyObject is the Data of a user without profile data.
var emptyObject = json.RawMessage(`{}`)

// profileData validates the data of a new user: absent or null is {};
// otherwise it must be a JSON object, no deeper than MaxDataDepth and no
// larger than MaxDataSize once compacted (null members are dropped, as a
// merge patch onto {} would).
func profileData(raw json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return emptyObject, nil
	}
	if t[0] != '{' {
		return nil, foyer.Errorf(foyer.EInvalid, "data must be a JSON object.")
	}
	d, err := foyer.MergePatch(emptyObject, t)
	if err != nil {
		return nil, err
	}
	if len(d) > foyer.MaxDataSize {
		return nil, foyer.Errorf(foyer.ETooLarge, "data is larger than %d bytes.", foyer.MaxDataSize)
	}
	return d, nil
}

// userDoc returns u ready to render: Data is always an object.
func userDoc(u *foyer.User) *foyer.User {
	if len(u.Data) == 0 {
		u.Data = emptyObject
	}
	return u
}

// etag is the ETag of a user document at version v.
func etag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// parseETag returns the version of a strong ETag `"<n>"`.
func parseETag(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0, false
	}
	v, err := strconv.ParseInt(s[1:len(s)-1], 10, 64)
	return v, err == nil && v >= 0
}

// notModified reports whether If-None-Match matches the user at version
// (weak comparison, RFC 9110 §13.1.2).
func notModified(r *http.Request, version int64) bool {
	for _, line := range r.Header.Values("If-None-Match") {
		for item := range strings.SplitSeq(line, ",") {
			item = strings.TrimSpace(item)
			if item == "*" {
				return true
			}
			if v, ok := parseETag(strings.TrimPrefix(item, "W/")); ok && v == version {
				return true
			}
		}
	}
	return false
}

// ifMatch turns If-Match (strong comparison) into the version an update
// must find. Without the header, or with "*", there is no condition. A
// value that cannot match any version we issue is EPreconditionFailed.
// With several versions listed, current is asked for the one stored now.
func ifMatch(r *http.Request, current func() (int64, error)) (*int64, error) {
	lines := r.Header.Values("If-Match")
	if len(lines) == 0 {
		return nil, nil
	}
	var versions []int64
	for _, line := range lines {
		for item := range strings.SplitSeq(line, ",") {
			item = strings.TrimSpace(item)
			if item == "*" {
				return nil, nil
			}
			if v, ok := parseETag(item); ok {
				versions = append(versions, v)
			}
		}
	}
	failed := foyer.Errorf(foyer.EPreconditionFailed, "The user has changed since the version in If-Match.")
	switch len(versions) {
	case 0:
		return nil, failed
	case 1:
		return &versions[0], nil
	}
	cur, err := current()
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		if v == cur {
			return &cur, nil
		}
	}
	return nil, failed
}

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
	h := w.Header()
	h.Set("Content-Type", mediaJSON)
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	w.Write(append(b, '\n')) // a failed write is the client's departure, not ours to report
	return nil
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

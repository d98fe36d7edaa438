// Package client is the Go SDK of Foyer for the apps in front of it: a
// typed Client for the server API (users, conversion, aliases, vended
// tokens, events, keys, OpenID Connect applications, the development
// mailbox) and for the visitor API on a visitor's behalf
// (profile, conversion, sign-in, merge), net/http Middleware that verifies
// visitors' tokens locally and creates anonymous accounts only when the
// app first needs one (EnsureUser), and VerifyWebhook for receivers of
// Foyer's webhooks.
//
// It imports the root package, token and the standard library only, so
// that an app which uses it does not build Foyer's storage or server. It
// must not import any other Foyer package.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	foyer "github.com/foyerhq/foyer"
)

// DefaultTimeout bounds each request of a Client made without an HTTP
// client of its own.
const DefaultTimeout = 30 * time.Second

// maxErrorBody is how much of an error response is read.
const maxErrorBody = 64 << 10

// Client calls Foyer's HTTP API. The server API is authenticated with the
// API key given to New; the visitor API methods (Me, PatchMe, ConvertMe,
// Login, MergeMe…) send the visitor's token instead, never the key.
// A Client is safe for concurrent use.
//
// Every error Foyer answers comes back as a *foyer.Error with the code of
// the response body, so callers test it with foyer.ErrorCode just as code
// inside Foyer does. Its Err is an *HTTPError with the status and the
// request id to quote when asking the operator.
type Client struct {
	base   string
	apiKey string
	http   *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc, for example
// one with a custom transport or timeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// New returns a Client of the Foyer at baseURL (for example
// "https://id.example.com") that authenticates server API calls with
// apiKey, a "foyer_sk_…" secret. apiKey may be empty for a Client that
// only calls the visitor API.
func New(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{
		base:   strings.TrimRight(baseURL, "/"),
		apiKey: apiKey,
		http:   &http.Client{Timeout: DefaultTimeout},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// HTTPError describes the response that carried an error: it is the Err of
// the *foyer.Error a method returns.
type HTTPError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// RequestID is the X-Request-Id Foyer logged the request under.
	RequestID string
	// RetryAfter is how long Foyer asked to wait (rate_limited), or 0.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	s := "HTTP " + strconv.Itoa(e.StatusCode)
	if e.RequestID != "" {
		s += ", request id " + e.RequestID
	}
	return s
}

// request is one API call.
type request struct {
	method string
	path   string // escaped
	query  url.Values
	// auth is the bearer credential: the API key or a visitor's token;
	// "" sends no Authorization header.
	auth string
	// body is JSON-encoded, unless it is a json.RawMessage, sent as is.
	body        any
	contentType string // default application/json when there is a body
	header      http.Header
	// out receives the JSON body of a successful response.
	out any
}

// server returns a request of the server API, authenticated by the key.
func (c *Client) server(method, path string) *request {
	return &request{method: method, path: path, auth: c.apiKey}
}

// do sends req and decodes the answer. It returns the response headers of
// a successful call, and for an error response a *foyer.Error rebuilt
// from the body's code.
func (c *Client) do(ctx context.Context, req *request) (http.Header, error) {
	u := c.base + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	if req.body != nil {
		b, ok := req.body.(json.RawMessage)
		if !ok {
			var err error
			if b, err = json.Marshal(req.body); err != nil {
				return nil, fmt.Errorf("foyer client: %s %s: encode body: %w", req.method, req.path, err)
			}
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("foyer client: %s %s: %w", req.method, req.path, err)
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	hr.Header.Set("Accept", "application/json")
	if req.body != nil {
		ct := req.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if req.auth != "" {
		hr.Header.Set("Authorization", "Bearer "+req.auth)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("foyer client: %s %s: %w", req.method, req.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, responseError(resp)
	}
	if req.out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(req.out); err != nil {
			return nil, fmt.Errorf("foyer client: %s %s: decode response: %w", req.method, req.path, err)
		}
	}
	return resp.Header, nil
}

// responseError rebuilds the *foyer.Error of an error response from the
// code in its body, {"error":{"code","message"}}. Codes are Foyer's API,
// so the status is not needed to know what went wrong; a body without a
// code (a proxy's error page) is reported as internal.
func responseError(resp *http.Response) error {
	he := &HTTPError{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		he.RetryAfter = time.Duration(s) * time.Second
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		return &foyer.Error{Code: body.Error.Code, Message: body.Error.Message, Err: he}
	}
	return &foyer.Error{
		Code:    foyer.EInternal,
		Message: fmt.Sprintf("Foyer answered %s without an error code.", resp.Status),
		Err:     he,
	}
}

// pathID escapes an id for use as one path segment. An empty id would
// name the collection instead of one of its members, so it is refused.
func pathID(id string) (string, error) {
	if id == "" {
		return "", foyer.Errorf(foyer.ENotFound, "An id is required.")
	}
	return url.PathEscape(id), nil
}

// versionOf reads the user version from a user document's ETag.
func versionOf(h http.Header) int64 {
	s := strings.TrimSpace(h.Get("ETag"))
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0
	}
	v, err := strconv.ParseInt(s[1:len(s)-1], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// errNoBaseURL is returned by calls that need Foyer when none is set.
var errNoBaseURL = errors.New("foyer client: no Foyer base URL configured")

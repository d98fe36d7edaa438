package http_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	foyer "github.com/foyerhq/foyer"
	foyerhttp "github.com/foyerhq/foyer/http"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/go-cmp/cmp"
)

// openapiPath is the API description kept in the repository.
const openapiPath = "../docs/openapi.yaml"

// loadOpenAPI loads and validates the OpenAPI document.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openapiPath)
	if err != nil {
		t.Fatalf("load %s: %v", openapiPath, err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("validate %s: %v", openapiPath, err)
	}
	return doc
}

// TestOpenAPIDocument checks that the document loads and is a valid
// OpenAPI document whose error codes are exactly those of docs/errors.md.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)

	var codes []string
	for _, v := range doc.Components.Schemas["ErrorCode"].Value.Enum {
		codes = append(codes, v.(string))
	}
	md, err := os.ReadFile("../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([0-9]{3}) \\|").FindAllStringSubmatch(string(md), -1) {
		documented = append(documented, m[1])
		if got, want := strconv.Itoa(foyerhttp.ErrorStatus(m[1])), m[2]; got != want {
			t.Errorf("docs/errors.md gives %s status %s, the server %s", m[1], want, got)
		}
	}
	if len(documented) == 0 {
		t.Fatal("no error codes found in docs/errors.md")
	}
	if diff := cmp.Diff(documented, codes); diff != "" {
		t.Errorf("ErrorCode enum differs from docs/errors.md (-errors.md +openapi.yaml):\n%s", diff)
	}
}

// TestOpenAPIRoutes checks that the document describes exactly the routes
// that the server's routes() registers, read from its source.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(documented)
	served := serverRoutes(t)
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Errorf("routes() and docs/openapi.yaml differ (-served +documented):\n%s", diff)
	}
}

// routePattern matches the ServeMux patterns registered in routes().
var routePattern = regexp.MustCompile(`^[A-Z]+ /`)

// serverRoutes returns the sorted patterns ("METHOD /path/{id}") that the
// method routes of Server registers: every string literal in its body that
// looks like a ServeMux pattern with a method. Patterns registered
// conditionally (such as /metrics) are included.
func serverRoutes(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := gotoken.NewFileSet()
	var patterns []string
	found := false
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Name.Name != "routes" || fn.Recv == nil || fn.Body == nil {
				continue
			}
			found = true
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != gotoken.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatalf("%s: %v", fset.Position(lit.Pos()), err)
				}
				if routePattern.MatchString(s) {
					// OpenAPI has no "{name...}" wildcard; "{$}" anchors the end.
					s = strings.ReplaceAll(strings.TrimSuffix(s, "{$}"), "...}", "}")
					patterns = append(patterns, s)
				}
				return true
			})
		}
	}
	if !found || len(patterns) == 0 {
		t.Fatal("no routes() method with route patterns found in the http package")
	}
	slices.Sort(patterns)
	return slices.Compact(patterns)
}

// reqCheck says what the document must make of a walkthrough request.
type reqCheck int

const (
	// reqValid: the request follows the document.
	reqValid reqCheck = iota
	// reqInvalid: the request breaks the document on purpose (no
	// credential, wrong media type, a body the schema refuses), and the
	// document must say so.
	reqInvalid
	// reqAny: the document may or may not refuse it (generic requests such
	// as an oversized body).
	reqAny
)

// call is one request of the walkthrough and what must come back.
type call struct {
	name       string
	method     string
	path       string
	header     []string
	body       string
	req        reqCheck
	wantStatus int
	wantCode   string // error code, "" for a success
	// remote is the client address, for the per-IP rate limits; empty
	// means httptest's default.
	remote string
}

// httpRequest builds the request of c.
func (c call) httpRequest() *http.Request {
	r := request(c.method, c.path, c.body, c.header...)
	if c.remote != "" {
		r.RemoteAddr = c.remote
	}
	return r
}

// apiChecker sends calls through the real handler and validates each
// request and response against the document.
type apiChecker struct {
	doc    *openapi3.T
	router routers.Router
	// covered records, for each operation ("METHOD /path"), the statuses
	// whose responses were validated.
	covered map[string]map[int]bool
}

func newAPIChecker(t testing.TB) *apiChecker {
	t.Helper()
	doc := loadOpenAPI(t)
	// Requests in tests have no scheme and host: match paths alone.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &apiChecker{doc: doc, router: router, covered: map[string]map[int]bool{}}
}

// authenticateOpenAPI decides whether a request carries the credential a
// security scheme of the document asks for. It checks presence and form,
// not validity: the server decides that.
func authenticateOpenAPI(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	authz := r.Header.Get("Authorization")
	switch in.SecuritySchemeName {
	case "apiKey":
		if !strings.HasPrefix(authz, "Bearer "+foyerhttp.APIKeyPrefix) {
			return in.NewError(errors.New("no API key"))
		}
	case "visitorBearer":
		if !strings.HasPrefix(authz, "Bearer ") || strings.HasPrefix(authz, "Bearer "+foyerhttp.APIKeyPrefix) {
			return in.NewError(errors.New("no bearer token"))
		}
	case "anonymousCookie", "sessionCookie":
		if c, err := r.Cookie(in.SecurityScheme.Name); err != nil || c.Value == "" {
			return in.NewError(fmt.Errorf("no cookie %s", in.SecurityScheme.Name))
		}
	case "anonymousToken":
		if r.Header.Get(in.SecurityScheme.Name) == "" {
			return in.NewError(fmt.Errorf("no %s header", in.SecurityScheme.Name))
		}
	default:
		return in.NewError(fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName))
	}
	return nil
}

// checkedHeaders are the response headers that carry API meaning: one of
// them in a response must be declared for that response in the document.
var checkedHeaders = []string{"ETag", "Location", "Retry-After", "Set-Cookie", "Foyer-Token", "WWW-Authenticate"}

// do sends c through ts and validates the request and the response
// against the document.
func (a *apiChecker) do(t testing.TB, ts *testServer, c call) *httptest.ResponseRecorder {
	t.Helper()
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		AuthenticationFunc:    authenticateOpenAPI,
		// Errors name the path and the reason, without dumping the schema.
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
	}
	vr := c.httpRequest()
	route, params, err := a.router.FindRoute(vr)
	if err != nil {
		t.Fatalf("%s: %s %s is not in the document: %v", c.name, c.method, c.path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route, Options: opts}
	err = openapi3filter.ValidateRequest(t.Context(), in)
	switch {
	case c.req == reqValid && err != nil:
		t.Errorf("%s: the document refuses the request: %v", c.name, err)
	case c.req == reqInvalid && err == nil:
		t.Errorf("%s: the document accepts a request that breaks it", c.name)
	}

	w := ts.serve(c.httpRequest())
	if w.Code != c.wantStatus {
		t.Fatalf("%s: status = %d, want %d; body %s", c.name, w.Code, c.wantStatus, clip(w.Body.String()))
	}
	if got := errorCode(t, w); got != c.wantCode {
		t.Fatalf("%s: error code = %q, want %q; body %s", c.name, got, c.wantCode, clip(w.Body.String()))
	}

	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: w.Code, Header: w.Header(), Options: opts}
	out.SetBodyBytes(w.Body.Bytes())
	if err := openapi3filter.ValidateResponse(t.Context(), out); err != nil {
		t.Errorf("%s: response %d does not match the document: %v\nheaders %v\nbody %s", c.name, w.Code, err, w.Header(), clip(w.Body.String()))
	}
	a.checkHeaders(t, c.name, route.Operation, w)

	op := route.Method + " " + route.Path
	if a.covered[op] == nil {
		a.covered[op] = map[int]bool{}
	}
	a.covered[op][w.Code] = true
	return w
}

// checkHeaders checks what ValidateResponse leaves out: that each header
// of checkedHeaders in the response is declared, that required headers are
// present (also on 304, which ValidateResponse skips), and that a response
// without documented content has no body.
func (a *apiChecker) checkHeaders(t testing.TB, name string, op *openapi3.Operation, w *httptest.ResponseRecorder) {
	t.Helper()
	ref := op.Responses.Status(w.Code)
	if ref == nil || ref.Value == nil {
		// ValidateResponse skips 304 and redirects altogether.
		t.Errorf("%s: status %d is not documented for this operation", name, w.Code)
		return
	}
	resp := ref.Value
	declared := func(h string) *openapi3.HeaderRef {
		for k, v := range resp.Headers {
			if strings.EqualFold(k, h) {
				return v
			}
		}
		return nil
	}
	for _, h := range checkedHeaders {
		if w.Header().Get(h) != "" && declared(h) == nil {
			t.Errorf("%s: response %d has %s: %q, which the document does not declare", name, w.Code, h, w.Header().Get(h))
		}
	}
	for k, v := range resp.Headers {
		if v.Value != nil && v.Value.Required && w.Header().Get(k) == "" {
			t.Errorf("%s: response %d lacks the required header %s", name, w.Code, k)
		}
	}
	// ValidateResponse reads the first value of a header only; a response
	// may set several cookies.
	if h := declared("Set-Cookie"); h != nil && h.Value != nil && h.Value.Schema != nil {
		for _, v := range w.Header().Values("Set-Cookie") {
			if err := h.Value.Schema.Value.VisitJSON(v, openapi3.DisableSchemaErrorDetails()); err != nil {
				t.Errorf("%s: response %d sets a cookie the document does not describe: %q: %v", name, w.Code, v, err)
			}
		}
	}
	if len(resp.Content) == 0 && w.Body.Len() > 0 {
		t.Errorf("%s: response %d has a body the document does not describe: %s", name, w.Code, clip(w.Body.String()))
	}
}

// clip shortens a body for a failure message.
func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// operations returns every operation of the document as "METHOD /path".
func (a *apiChecker) operations() []string {
	var ops []string
	for path, item := range a.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// operation returns the operation of "METHOD /path".
func (a *apiChecker) operation(op string) *openapi3.Operation {
	method, path, _ := strings.Cut(op, " ")
	return a.doc.Paths.Value(path).GetOperation(method)
}

// checkCoverage fails unless every documented status of every operation
// was validated, except 500 and 503, which the walkthrough provokes only
// on some operations.
func (a *apiChecker) checkCoverage(t testing.TB) {
	t.Helper()
	for _, op := range a.operations() {
		for status := range a.operation(op).Responses.Map() {
			code, err := strconv.Atoi(status)
			if err != nil {
				t.Errorf("%s: response %q is not a status code", op, status)
				continue
			}
			if code == http.StatusInternalServerError || code == http.StatusServiceUnavailable {
				continue
			}
			if !a.covered[op][code] {
				t.Errorf("%s: response %d is documented but the walkthrough never saw it", op, code)
			}
		}
	}
}

// security returns the names of the security schemes op accepts.
func (a *apiChecker) security(op *openapi3.Operation) []string {
	reqs := a.doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	var names []string
	for _, req := range reqs {
		for name := range req {
			names = append(names, name)
		}
	}
	return names
}

// soleSchemes returns the schemes that suffice alone for op.
func (a *apiChecker) soleSchemes(op *openapi3.Operation) []string {
	reqs := a.doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	var names []string
	for _, req := range reqs {
		if len(req) == 1 {
			for name := range req {
				names = append(names, name)
			}
		}
	}
	return names
}

// fillPath replaces path parameters with an id that names nothing.
func fillPath(path string) string {
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "0190c2a4-7e5b-7000-8000-000000000000")
}

// signupOf decodes the body of a POST /v1/anonymous response.
func signupOf(t testing.TB, w *httptest.ResponseRecorder) signup {
	t.Helper()
	var s signup
	decode(t, w, &s)
	return s
}

// TestOpenAPIWalkthrough exercises every documented operation through the
// real handler over a real SQLite store, and validates every request and
// response (status, headers, body) against the document, errors included.
func TestOpenAPIWalkthrough(t *testing.T) {
	a := newAPIChecker(t)
	ts := setup(t)
	api := ts.api()
	ctJSON := jsonType
	ctPatch := mergePatchType
	textPlain := []string{"Content-Type", "text/plain"}
	etagOf := func(w *httptest.ResponseRecorder) []string { return []string{"If-Match", w.Header().Get("ETag")} }
	missing := "0190c2a4-7e5b-7000-8000-000000000000"

	// Ops and public keys.
	a.do(t, ts, call{name: "Healthz", method: "GET", path: "/healthz", wantStatus: 200})
	a.do(t, ts, call{name: "Readyz", method: "GET", path: "/readyz", wantStatus: 200})
	a.do(t, ts, call{name: "Metrics", method: "GET", path: "/metrics", wantStatus: 200})
	a.do(t, ts, call{name: "JWKS", method: "GET", path: "/.well-known/jwks.json", wantStatus: 200})

	// Visitor API.
	w := a.do(t, ts, call{name: "SignupNoBody", method: "POST", path: "/v1/anonymous", wantStatus: 201})
	alice := signupOf(t, w)
	w = a.do(t, ts, call{name: "SignupWithData", method: "POST", path: "/v1/anonymous", header: ctJSON,
		body: `{"data":{"theme":"dark","cart":[1,2]}}`, wantStatus: 201})
	bob := signupOf(t, w)
	a.do(t, ts, call{name: "SignupCrossOrigin", method: "POST", path: "/v1/anonymous", header: crossOrigin, wantStatus: 201})
	a.do(t, ts, call{name: "SignupAgainWithCookie", method: "POST", path: "/v1/anonymous", header: withCookie(alice.Token), wantStatus: 200})
	a.do(t, ts, call{name: "SignupAgainWithBearer", method: "POST", path: "/v1/anonymous", header: bearer(alice.Token), wantStatus: 200})
	a.do(t, ts, call{name: "SignupDataNotObject", method: "POST", path: "/v1/anonymous", header: ctJSON,
		body: `{"data":[1]}`, req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "SignupUnknownMember", method: "POST", path: "/v1/anonymous", header: ctJSON,
		body: `{"anonymous":false}`, req: reqInvalid, wantStatus: 400, wantCode: "malformed_json"})

	w = a.do(t, ts, call{name: "GetMeCookie", method: "GET", path: "/v1/me", header: withCookie(alice.Token), wantStatus: 200})
	aliceETag := w.Header().Get("ETag")
	a.do(t, ts, call{name: "GetMeBearer", method: "GET", path: "/v1/me", header: bearer(bob.Token), wantStatus: 200})
	a.do(t, ts, call{name: "GetMeNotModified", method: "GET", path: "/v1/me",
		header: join(withCookie(alice.Token), []string{"If-None-Match", aliceETag}), wantStatus: 304})
	a.do(t, ts, call{name: "GetMeGarbageToken", method: "GET", path: "/v1/me", header: bearer("a.b.c"), wantStatus: 401, wantCode: "unauthorized"})
	a.do(t, ts, call{name: "GetMeAPIKey", method: "GET", path: "/v1/me", header: api, req: reqInvalid, wantStatus: 401, wantCode: "unauthorized"})

	w = a.do(t, ts, call{name: "PatchMe", method: "PATCH", path: "/v1/me",
		header: join(withCookie(alice.Token), ctPatch, []string{"If-Match", aliceETag}),
		body:   `{"data":{"theme":"light","cart":null}}`, wantStatus: 200})
	a.do(t, ts, call{name: "PatchMeBearerReset", method: "PATCH", path: "/v1/me",
		header: join(bearer(bob.Token), ctPatch), body: `{"data":null}`, wantStatus: 200})
	a.do(t, ts, call{name: "PatchMeStale", method: "PATCH", path: "/v1/me",
		header: join(withCookie(alice.Token), ctPatch, []string{"If-Match", aliceETag}),
		body:   `{"data":{"theme":"blue"}}`, wantStatus: 412, wantCode: "precondition_failed"})
	a.do(t, ts, call{name: "PatchMeMarker", method: "PATCH", path: "/v1/me",
		header: join(withCookie(alice.Token), ctPatch), body: `{"anonymous":false}`,
		req: reqInvalid, wantStatus: 403, wantCode: "forbidden"})
	a.do(t, ts, call{name: "PatchMeCrossOrigin", method: "PATCH", path: "/v1/me",
		header: join(withCookie(alice.Token), ctPatch, crossOrigin), body: `{"data":{}}`,
		wantStatus: 403, wantCode: "forbidden"})
	a.do(t, ts, call{name: "PatchMeMalformed", method: "PATCH", path: "/v1/me",
		header: join(withCookie(alice.Token), ctPatch), body: `{"data":`,
		req: reqInvalid, wantStatus: 400, wantCode: "malformed_json"})
	a.do(t, ts, call{name: "PatchMeLargeData", method: "PATCH", path: "/v1/me",
		header:     join(withCookie(alice.Token), ctPatch),
		body:       `{"data":{"a":"` + strings.Repeat("x", 40<<10) + `","b":"` + strings.Repeat("y", 20<<10) + `"}}`,
		wantStatus: 200})
	a.do(t, ts, call{name: "PatchMeDataTooLargeAfterMerge", method: "PATCH", path: "/v1/me",
		header:     join(withCookie(alice.Token), ctPatch),
		body:       `{"data":{"c":"` + strings.Repeat("z", 20<<10) + `"}}`,
		wantStatus: 413, wantCode: "payload_too_large"})

	// Renewal: an anonymous token older than RenewAfter is replaced, by
	// Set-Cookie for the cookie and Foyer-Token for a bearer token.
	ts.clock.Advance(foyerhttp.DefaultRenewAfter + time.Minute)
	w = a.do(t, ts, call{name: "GetMeRenewCookie", method: "GET", path: "/v1/me", header: withCookie(alice.Token), wantStatus: 200})
	if c := cookie(w, cookieName); c == nil || c.Value == "" {
		t.Errorf("GetMeRenewCookie: no renewed cookie in %v", w.Header())
	} else {
		alice.Token = c.Value
	}
	w = a.do(t, ts, call{name: "PatchMeRenewBearer", method: "PATCH", path: "/v1/me",
		header: join(bearer(bob.Token), ctPatch), body: `{"data":{"seen":true}}`, wantStatus: 200})
	if tok := w.Header().Get("Foyer-Token"); tok == "" {
		t.Errorf("PatchMeRenewBearer: no Foyer-Token in %v", w.Header())
	} else {
		bob.Token = tok
	}

	a.do(t, ts, call{name: "DeleteMeCrossOrigin", method: "DELETE", path: "/v1/me",
		header: join(withCookie(bob.Token), crossOrigin), wantStatus: 403, wantCode: "forbidden"})
	a.do(t, ts, call{name: "DeleteMe", method: "DELETE", path: "/v1/me", header: bearer(bob.Token), wantStatus: 204})
	a.do(t, ts, call{name: "GetMeDeleted", method: "GET", path: "/v1/me", header: bearer(bob.Token), wantStatus: 401, wantCode: "unauthorized"})

	// Server API: users.
	w = a.do(t, ts, call{name: "CreateAnonymousUser", method: "POST", path: "/v1/users", header: join(api, ctJSON),
		body: `{"anonymous":true,"data":{"source":"import"}}`, wantStatus: 201})
	var carol userDoc
	decode(t, w, &carol)
	w = a.do(t, ts, call{name: "CreateRegisteredUser", method: "POST", path: "/v1/users", header: join(api, ctJSON),
		body: `{"email":"Dana@Example.com","email_verified":true}`, wantStatus: 201})
	var dana userDoc
	decode(t, w, &dana)
	a.do(t, ts, call{name: "CreateUserEmailTaken", method: "POST", path: "/v1/users", header: join(api, ctJSON),
		body: `{"email":"dana@example.com","email_verified":true}`, wantStatus: 409, wantCode: "conflict"})
	a.do(t, ts, call{name: "CreateUserNotVouched", method: "POST", path: "/v1/users", header: join(api, ctJSON),
		body: `{"email":"erin@example.com"}`, req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "CreateUserBadEmail", method: "POST", path: "/v1/users", header: join(api, ctJSON),
		body: `{"email":"not an address@","email_verified":true}`, req: reqAny, wantStatus: 400, wantCode: "invalid"})

	w = a.do(t, ts, call{name: "ListUsersFirstPage", method: "GET", path: "/v1/users?anonymous=true&limit=1", header: api, wantStatus: 200})
	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	decode(t, w, &page)
	if page.NextCursor == "" {
		t.Fatalf("ListUsersFirstPage: no next_cursor in %s", w.Body)
	}
	a.do(t, ts, call{name: "ListUsersNextPage", method: "GET", path: "/v1/users?anonymous=true&limit=1&cursor=" + page.NextCursor, header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ListUsersFilters", method: "GET",
		path:   "/v1/users?email=dana%40example.com&created_after=2020-01-01T00:00:00Z&created_before=2100-01-01T00:00:00Z&inactive_since=2100-01-01T00:00:00Z",
		header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ListUsersBadLimit", method: "GET", path: "/v1/users?limit=0", header: api, req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "ListUsersUnknownParameter", method: "GET", path: "/v1/users?anonymus=true", header: api, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "ListUsersBadCursor", method: "GET", path: "/v1/users?cursor=bm90LWFuLWlk", header: api, wantStatus: 400, wantCode: "invalid"})

	w = a.do(t, ts, call{name: "GetUser", method: "GET", path: "/v1/users/" + carol.ID, header: api, wantStatus: 200})
	carolETag := w.Header().Get("ETag")
	a.do(t, ts, call{name: "GetUserNotModified", method: "GET", path: "/v1/users/" + carol.ID,
		header: join(api, []string{"If-None-Match", carolETag}), wantStatus: 304})
	a.do(t, ts, call{name: "GetUserMissing", method: "GET", path: "/v1/users/" + missing, header: api, wantStatus: 404, wantCode: "not_found"})
	a.do(t, ts, call{name: "GetUserNotUUID", method: "GET", path: "/v1/users/nope", header: api, wantStatus: 404, wantCode: "not_found"})

	w = a.do(t, ts, call{name: "PatchUser", method: "PATCH", path: "/v1/users/" + carol.ID,
		header: join(api, ctPatch, []string{"If-Match", carolETag}), body: `{"data":{"tier":"gold"}}`, wantStatus: 200})
	a.do(t, ts, call{name: "PatchUserStale", method: "PATCH", path: "/v1/users/" + carol.ID,
		header: join(api, ctPatch, []string{"If-Match", carolETag}), body: `{"data":{"tier":"silver"}}`,
		wantStatus: 412, wantCode: "precondition_failed"})
	a.do(t, ts, call{name: "PatchUserCurrentETag", method: "PATCH", path: "/v1/users/" + carol.ID,
		header: join(api, ctPatch, etagOf(w)), body: `{"data":{"tier":"silver"}}`, wantStatus: 200})
	a.do(t, ts, call{name: "PatchUserMarker", method: "PATCH", path: "/v1/users/" + carol.ID,
		header: join(api, ctPatch), body: `{"Email_Verified":true}`, req: reqInvalid, wantStatus: 403, wantCode: "forbidden"})
	a.do(t, ts, call{name: "PatchUserDataNotObject", method: "PATCH", path: "/v1/users/" + carol.ID,
		header: join(api, ctPatch), body: `{"data":[1]}`, req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "PatchUserMissing", method: "PATCH", path: "/v1/users/" + missing,
		header: join(api, ctPatch), body: `{"data":{}}`, wantStatus: 404, wantCode: "not_found"})

	a.do(t, ts, call{name: "RevokeUser", method: "POST", path: "/v1/users/" + alice.User.ID + "/revoke", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "GetMeRevoked", method: "GET", path: "/v1/me", header: withCookie(alice.Token), wantStatus: 401, wantCode: "unauthorized"})
	a.do(t, ts, call{name: "RevokeUserMissing", method: "POST", path: "/v1/users/" + missing + "/revoke", header: api, wantStatus: 404, wantCode: "not_found"})

	a.do(t, ts, call{name: "DeleteUser", method: "DELETE", path: "/v1/users/" + carol.ID, header: api, wantStatus: 204})
	a.do(t, ts, call{name: "DeleteUserAgain", method: "DELETE", path: "/v1/users/" + carol.ID, header: api, wantStatus: 404, wantCode: "not_found"})

	// Server API: tokens and keys.
	a.do(t, ts, call{name: "VendToken", method: "POST", path: "/v1/tokens", header: join(api, ctJSON),
		body: `{"claims":{"role":"reader","scopes":["a","b"]},"ttl_seconds":60}`, wantStatus: 200})
	a.do(t, ts, call{name: "VendTokenForUser", method: "POST", path: "/v1/tokens", header: join(api, ctJSON),
		body: `{"user_id":"` + dana.ID + `","ttl_seconds":3600}`, wantStatus: 200})
	a.do(t, ts, call{name: "VendTokenUnknownUser", method: "POST", path: "/v1/tokens", header: join(api, ctJSON),
		body: `{"user_id":"` + missing + `","ttl_seconds":60}`, wantStatus: 404, wantCode: "not_found"})
	a.do(t, ts, call{name: "VendTokenReservedClaim", method: "POST", path: "/v1/tokens", header: join(api, ctJSON),
		body: `{"claims":{"SUB":"x"},"ttl_seconds":60}`, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "VendTokenNoTTL", method: "POST", path: "/v1/tokens", header: join(api, ctJSON),
		body: `{"claims":{}}`, req: reqInvalid, wantStatus: 400, wantCode: "invalid"})

	w = a.do(t, ts, call{name: "CreateAPIKey", method: "POST", path: "/v1/api-keys", header: join(api, ctJSON),
		body: `{"name":"billing"}`, wantStatus: 201})
	var key struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	decode(t, w, &key)
	a.do(t, ts, call{name: "CreateAPIKeyBlankName", method: "POST", path: "/v1/api-keys", header: join(api, ctJSON),
		body: `{"name":"   "}`, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "ListAPIKeysUsedByNewKey", method: "GET", path: "/v1/api-keys", header: bearer(key.Secret), wantStatus: 200})
	a.do(t, ts, call{name: "DeleteAPIKey", method: "DELETE", path: "/v1/api-keys/" + key.ID, header: api, wantStatus: 204})
	a.do(t, ts, call{name: "DeleteAPIKeyAgain", method: "DELETE", path: "/v1/api-keys/" + key.ID, header: api, wantStatus: 404, wantCode: "not_found"})
	a.do(t, ts, call{name: "ListAPIKeysRevokedKey", method: "GET", path: "/v1/api-keys", header: bearer(key.Secret), wantStatus: 401, wantCode: "unauthorized"})

	a.do(t, ts, call{name: "ListKeys", method: "GET", path: "/v1/keys", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "RotateKeys", method: "POST", path: "/v1/keys/rotate", header: api, wantStatus: 201})
	a.do(t, ts, call{name: "ListKeysAfterRotation", method: "GET", path: "/v1/keys", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "JWKSAfterRotation", method: "GET", path: "/.well-known/jwks.json", wantStatus: 200})

	registered := walkRegistration(t, a, ts)

	// Server API: the event log, which now holds events of every kind
	// the calls above caused.
	a.do(t, ts, call{name: "ListEvents", method: "GET", path: "/v1/events?limit=500", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ListEventsFiltered", method: "GET",
		path:   "/v1/events?type=user.deleted&user_id=" + carol.ID + "&since=2020-01-01T00:00:00Z&until=2100-01-01T00:00:00Z&limit=10",
		header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ListEventsBadType", method: "GET", path: "/v1/events?type=user.exploded", header: api,
		req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	// Every kind of event was caused by some call above.
	for _, typ := range foyer.EventTypes {
		w := ts.do("GET", "/v1/events?limit=1&type="+typ, "", api...)
		check(t, w, 200, "", `"type":"`+typ+`"`)
	}

	walkWebhooks(t, a, ts)
	walkApps(t, a, ts)
	walkPrivacy(t, a, ts, registered)
	walkReports(t, a, ts)
	walkPages(t, a, ts)

	// Generic errors, derived from the document itself so that every
	// operation gets them: 401 without a credential, 415 and 413 for every
	// request body.
	visitor := ts.signup(t)
	big := "{" + strings.Repeat(" ", foyerhttp.DefaultMaxBodyBytes) + "}"
	for _, op := range a.operations() {
		method, path, _ := strings.Cut(op, " ")
		o := a.operation(op)
		if isPageOperation(o) {
			continue // HTML, not the JSON error shape: walkPages covers these.
		}
		schemes := a.security(o)
		var cred []string
		switch {
		case slices.Contains(schemes, "apiKey"):
			cred = api
		case slices.Contains(schemes, "sessionCookie") && !slices.Contains(schemes, "anonymousCookie"):
			cred = bearer(registered) // a route for signed-in users only
		case slices.Contains(schemes, "sessionCookie") && slices.Contains(a.soleSchemes(o), "anonymousCookie"):
			cred = bearer(visitor.Token) // a visitor route
		case slices.Contains(schemes, "sessionCookie"):
			// A signed-in user with an anonymous credential beside.
			cred = join(bearer(registered), []string{foyerhttp.AnonymousTokenHeader, visitor.Token})
		case slices.Contains(schemes, "visitorBearer"):
			cred = bearer(visitor.Token)
		}
		if cred != nil && !hasEmptyRequirement(a, o) {
			a.do(t, ts, call{name: op + " without credential", method: method, path: fillPath(path),
				req: reqInvalid, wantStatus: 401, wantCode: "unauthorized"})
		}
		if o.RequestBody == nil || o.RequestBody.Value == nil {
			continue
		}
		var mediaType string
		for mt := range o.RequestBody.Value.Content {
			mediaType = mt
		}
		a.do(t, ts, call{name: op + " as text/plain", method: method, path: fillPath(path),
			header: join(cred, textPlain), body: "{}", req: reqInvalid, wantStatus: 415, wantCode: "unsupported_media_type"})
		a.do(t, ts, call{name: op + " too large", method: method, path: fillPath(path),
			header: join(cred, []string{"Content-Type", mediaType}), body: big, req: reqAny, wantStatus: 413, wantCode: "payload_too_large"})
	}

	// 429: the per-address limit of anonymous sign-ups.
	limited := setup(t, func(c *foyerhttp.Config) { c.AnonymousRateLimit = 1 })
	a.do(t, limited, call{name: "SignupWithinLimit", method: "POST", path: "/v1/anonymous", wantStatus: 201})
	w = a.do(t, limited, call{name: "SignupOverLimit", method: "POST", path: "/v1/anonymous", wantStatus: 429, wantCode: "rate_limited"})
	if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("SignupOverLimit: Retry-After = %q, want whole seconds", w.Header().Get("Retry-After"))
	}

	// 500 and 503: a broken schema, then a closed database.
	raw, err := sql.Open("sqlite", ts.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(t.Context(), "DROP TABLE events"); err != nil {
		t.Fatal(err)
	}
	a.do(t, ts, call{name: "ListEventsBroken", method: "GET", path: "/v1/events", header: api, wantStatus: 500, wantCode: "internal"})
	ts.db.Close()
	a.do(t, ts, call{name: "ReadyzDown", method: "GET", path: "/readyz", wantStatus: 503, wantCode: "unavailable"})

	a.checkCoverage(t)
}

// hasEmptyRequirement reports whether op may be called without a
// credential (an empty security requirement).
func hasEmptyRequirement(a *apiChecker, op *openapi3.Operation) bool {
	reqs := a.doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	for _, r := range reqs {
		if len(r) == 0 {
			return true
		}
	}
	return false
}

// walkRegistration walks progressive registration, sign-in, sessions,
// merge, password reset and the development mailbox. It returns the
// access token of a signed-in registered user.
func walkRegistration(t *testing.T, a *apiChecker, ts *testServer) string {
	api := ts.api()
	ctJSON := jsonType
	const pw = "correct horse battery"
	session := func(tok string) []string { return []string{"Cookie", sessionCookieName + "=" + tok} }
	anonHeader := func(tok string) []string { return []string{foyerhttp.AnonymousTokenHeader, tok} }
	emailBody := func(email string) string { return `{"email":"` + email + `"}` }
	redeemBody := func(tok, password string) string { return `{"token":"` + tok + `","password":"` + password + `"}` }
	missing := "0190c2a4-7e5b-7000-8000-000000000000"

	// link reads the token of the newest link of kind mailed to to, from
	// the development mailbox.
	link := func(name, to, kind string) string {
		t.Helper()
		w := a.do(t, ts, call{name: name, method: "GET", path: "/v1/dev/mail?limit=50&to=" + url.QueryEscape(to), header: api, wantStatus: 200})
		var box struct {
			Messages []struct {
				Kind  string   `json:"kind"`
				Links []string `json:"links"`
			} `json:"messages"`
		}
		decode(t, w, &box)
		for _, m := range box.Messages {
			if m.Kind != kind || len(m.Links) == 0 {
				continue
			}
			u, err := url.Parse(m.Links[0])
			if err != nil || u.Query().Get("token") == "" {
				t.Fatalf("%s: link %q has no token", name, m.Links[0])
			}
			return u.Query().Get("token")
		}
		t.Fatalf("%s: no %s mail with a link to %s in %s", name, kind, to, clip(w.Body.String()))
		return ""
	}
	var tokens struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}

	// Conversion, completed by an app that sends its anonymous token in
	// Foyer-Anonymous-Token: the session's tokens come in the body.
	eve := ts.signup(t)
	a.do(t, ts, call{name: "ConvertMe", method: "POST", path: "/v1/me/convert", header: join(bearer(eve.Token), ctJSON),
		body: emailBody("Eve@Example.com"), wantStatus: 202})
	w := a.do(t, ts, call{name: "CompleteWithHeader", method: "POST", path: "/v1/convert/complete",
		header: join(ctJSON, anonHeader(eve.Token)), body: redeemBody(link("DevMailEve", "eve@example.com", "conversion"), pw), wantStatus: 200})
	decode(t, w, &tokens)
	eveAccess, eveRefresh := tokens.AccessToken, tokens.RefreshToken
	if eveAccess == "" || eveRefresh == "" {
		t.Fatalf("CompleteWithHeader: no session tokens in %s", w.Body)
	}

	// Completed by the browser holding the anonymous cookie: the session
	// cookie replaces it.
	frank := ts.signup(t)
	a.do(t, ts, call{name: "ConvertMeCookie", method: "POST", path: "/v1/me/convert", header: join(withCookie(frank.Token), ctJSON),
		body: emailBody("frank@example.com"), wantStatus: 202})
	w = a.do(t, ts, call{name: "CompleteWithCookie", method: "POST", path: "/v1/convert/complete",
		header: join(ctJSON, withCookie(frank.Token)), body: redeemBody(link("DevMailFrank", "frank@example.com", "conversion"), pw), wantStatus: 200})
	if c := cookie(w, sessionCookieName); c == nil || c.Value == "" {
		t.Errorf("CompleteWithCookie: no session cookie in %v", w.Header())
	}

	// Completed elsewhere (the link opened on a phone): saved, not signed in.
	grace := ts.signup(t)
	a.do(t, ts, call{name: "ConvertMeGrace", method: "POST", path: "/v1/me/convert", header: join(bearer(grace.Token), ctJSON),
		body: emailBody("grace@example.com"), wantStatus: 202})
	graceLink := link("DevMailGrace", "grace@example.com", "conversion")
	a.do(t, ts, call{name: "CompleteElsewhere", method: "POST", path: "/v1/convert/complete",
		header: ctJSON, body: redeemBody(graceLink, pw), wantStatus: 200})
	a.do(t, ts, call{name: "CompleteUsedLink", method: "POST", path: "/v1/convert/complete",
		header: ctJSON, body: redeemBody(graceLink, pw), wantStatus: 400, wantCode: "token_invalid"})
	a.do(t, ts, call{name: "CompleteShortPassword", method: "POST", path: "/v1/convert/complete",
		header: ctJSON, body: redeemBody(graceLink, "short"), req: reqInvalid, wantStatus: 400, wantCode: "invalid_password"})

	// Two visitors ask for the same address; the second to complete finds
	// it taken.
	for _, name := range []string{"Henry", "Ivan"} {
		v := ts.signup(t)
		a.do(t, ts, call{name: "ConvertMe" + name, method: "POST", path: "/v1/me/convert", header: join(bearer(v.Token), ctJSON),
			body: emailBody("shared@example.com"), wantStatus: 202})
		a.do(t, ts, call{name: "Complete" + name, method: "POST", path: "/v1/convert/complete", header: ctJSON,
			body: redeemBody(link("DevMail"+name, "shared@example.com", "conversion"), pw), wantStatus: 200})
		if name == "Henry" {
			// Ivan's link was mailed before Henry completed.
			break
		}
	}
	ivan := ts.signup(t)
	judy := ts.signup(t)
	a.do(t, ts, call{name: "ConvertMeIvan", method: "POST", path: "/v1/me/convert", header: join(bearer(ivan.Token), ctJSON),
		body: emailBody("taken@example.com"), wantStatus: 202})
	ivanLink := link("DevMailIvan", "taken@example.com", "conversion")
	a.do(t, ts, call{name: "ConvertMeJudy", method: "POST", path: "/v1/me/convert", header: join(bearer(judy.Token), ctJSON),
		body: emailBody("taken@example.com"), wantStatus: 202})
	judyLink := link("DevMailJudy", "taken@example.com", "conversion")
	if judyLink == ivanLink {
		t.Fatal("the development mailbox does not list the newest message first")
	}
	a.do(t, ts, call{name: "CompleteJudy", method: "POST", path: "/v1/convert/complete", header: ctJSON,
		body: redeemBody(judyLink, pw), wantStatus: 200})
	a.do(t, ts, call{name: "CompleteIdentifierTaken", method: "POST", path: "/v1/convert/complete", header: ctJSON,
		body: redeemBody(ivanLink, pw), wantStatus: 409, wantCode: "identifier_taken"})

	a.do(t, ts, call{name: "ConvertMeRegistered", method: "POST", path: "/v1/me/convert", header: join(bearer(eveAccess), ctJSON),
		body: emailBody("eve2@example.com"), wantStatus: 409, wantCode: "conflict"})
	a.do(t, ts, call{name: "ConvertMeBadEmail", method: "POST", path: "/v1/me/convert", header: join(bearer(ivan.Token), ctJSON),
		body: emailBody("not an address"), req: reqAny, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "ConvertMeCrossOrigin", method: "POST", path: "/v1/me/convert", header: join(withCookie(ivan.Token), ctJSON, crossOrigin),
		body: emailBody("ivan@example.com"), wantStatus: 403, wantCode: "forbidden"})
	kim := ts.signup(t)
	for i := range foyerhttp.ConversionsPerUser + 1 {
		c := call{name: "ConvertMeRepeatedly", method: "POST", path: "/v1/me/convert", header: join(bearer(kim.Token), ctJSON),
			body: emailBody("kim" + strconv.Itoa(i) + "@example.com"), remote: "198.51.100.7:1234", wantStatus: 202}
		if i == foyerhttp.ConversionsPerUser {
			c.name, c.wantStatus, c.wantCode = "ConvertMeRateLimited", 429, "rate_limited"
		}
		a.do(t, ts, c)
	}

	// Sign-in, with another visitor's anonymous credential: a merge is
	// available.
	lea := ts.signup(t)
	w = a.do(t, ts, call{name: "Login", method: "POST", path: "/v1/login", header: join(ctJSON, anonHeader(lea.Token)),
		body: `{"email":"eve@example.com","password":"` + pw + `"}`, wantStatus: 200})
	decode(t, w, &tokens)
	loginRefresh := tokens.RefreshToken
	sc := cookie(w, sessionCookieName)
	if sc == nil || sc.Value == "" {
		t.Fatalf("Login: no session cookie in %v", w.Header())
	}
	eveSession := sc.Value
	a.do(t, ts, call{name: "LoginWrongPassword", method: "POST", path: "/v1/login", header: ctJSON,
		body: `{"email":"eve@example.com","password":"wrong horse battery"}`, wantStatus: 401, wantCode: "invalid_credentials"})
	a.do(t, ts, call{name: "LoginBadEmail", method: "POST", path: "/v1/login", header: ctJSON,
		body: `{"email":"eve","password":"x"}`, wantStatus: 400, wantCode: "invalid"})
	for i := range foyerhttp.LoginFailuresPerAccount + 1 {
		c := call{name: "LoginFailing", method: "POST", path: "/v1/login", header: ctJSON,
			body: `{"email":"victim@example.com","password":"guess ` + strconv.Itoa(i) + `"}`, remote: "198.51.100.8:1234",
			wantStatus: 401, wantCode: "invalid_credentials"}
		if i == foyerhttp.LoginFailuresPerAccount {
			c.name, c.wantStatus, c.wantCode = "LoginRateLimited", 429, "rate_limited"
		}
		a.do(t, ts, c)
	}
	a.do(t, ts, call{name: "GetMeSession", method: "GET", path: "/v1/me", header: session(eveSession), wantStatus: 200})
	a.do(t, ts, call{name: "GetMeAccessToken", method: "GET", path: "/v1/me", header: bearer(eveAccess), wantStatus: 200})

	// Merge: the signed-in user brings in an anonymous account, by header
	// (an app) and by cookie (a browser).
	a.do(t, ts, call{name: "MergeBadPolicy", method: "POST", path: "/v1/me/merge", header: join(bearer(eveAccess), anonHeader(lea.Token), ctJSON),
		body: `{"policy":"newest_wins"}`, req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "MergeWithHeader", method: "POST", path: "/v1/me/merge", header: join(bearer(eveAccess), anonHeader(lea.Token), ctJSON),
		body: `{"policy":"anonymous_wins"}`, wantStatus: 200})
	mia := ts.signup(t)
	a.do(t, ts, call{name: "MergeWithCookies", method: "POST", path: "/v1/me/merge",
		header: []string{"Cookie", sessionCookieName + "=" + eveSession + "; " + cookieName + "=" + mia.Token}, wantStatus: 200})
	a.do(t, ts, call{name: "MergeRegistered", method: "POST", path: "/v1/me/merge", header: join(bearer(eveAccess), anonHeader(eveAccess)),
		wantStatus: 409, wantCode: "conflict"})
	a.do(t, ts, call{name: "MergeNoAnonymousCredential", method: "POST", path: "/v1/me/merge", header: bearer(eveAccess),
		req: reqInvalid, wantStatus: 401, wantCode: "unauthorized"})
	a.do(t, ts, call{name: "MergeCrossOrigin", method: "POST", path: "/v1/me/merge",
		header:     join([]string{"Cookie", sessionCookieName + "=" + eveSession + "; " + cookieName + "=" + mia.Token}, crossOrigin),
		wantStatus: 403, wantCode: "forbidden"})
	a.do(t, ts, call{name: "GetAlias", method: "GET", path: "/v1/aliases/" + lea.User.ID, header: api, wantStatus: 200})
	a.do(t, ts, call{name: "GetAliasMissing", method: "GET", path: "/v1/aliases/" + missing, header: api, wantStatus: 404, wantCode: "not_found"})

	// Refresh tokens rotate; presenting a rotated one ends the session.
	a.do(t, ts, call{name: "Refresh", method: "POST", path: "/v1/token/refresh", header: ctJSON,
		body: `{"refresh_token":"` + eveRefresh + `"}`, wantStatus: 200})
	a.do(t, ts, call{name: "RefreshReused", method: "POST", path: "/v1/token/refresh", header: ctJSON,
		body: `{"refresh_token":"` + eveRefresh + `"}`, wantStatus: 401, wantCode: "unauthorized"})
	a.do(t, ts, call{name: "RefreshMalformed", method: "POST", path: "/v1/token/refresh", header: ctJSON,
		body: `{"refresh_token":`, req: reqInvalid, wantStatus: 400, wantCode: "malformed_json"})
	a.do(t, ts, call{name: "RefreshLogin", method: "POST", path: "/v1/token/refresh", header: ctJSON,
		body: `{"refresh_token":"` + loginRefresh + `"}`, wantStatus: 200})

	// Sign-out ends the session and clears both cookies; the ended
	// session's cookie is then refused and cleared.
	a.do(t, ts, call{name: "LogoutCrossOrigin", method: "POST", path: "/v1/logout", header: join(session(eveSession), crossOrigin),
		wantStatus: 403, wantCode: "forbidden"})
	a.do(t, ts, call{name: "Logout", method: "POST", path: "/v1/logout", header: session(eveSession), wantStatus: 204})
	w = a.do(t, ts, call{name: "LogoutAgain", method: "POST", path: "/v1/logout", header: session(eveSession), wantStatus: 401, wantCode: "unauthorized"})
	if c := cookie(w, sessionCookieName); c == nil || c.MaxAge >= 0 {
		t.Errorf("LogoutAgain: the ended session's cookie is not cleared: %v", w.Header())
	}
	a.do(t, ts, call{name: "GetMeEndedSession", method: "GET", path: "/v1/me", header: session(eveSession), wantStatus: 401, wantCode: "unauthorized"})

	// Password reset.
	a.do(t, ts, call{name: "ForgotPassword", method: "POST", path: "/v1/password/forgot", header: ctJSON,
		body: emailBody("eve@example.com"), wantStatus: 202})
	a.do(t, ts, call{name: "ForgotPasswordUnknown", method: "POST", path: "/v1/password/forgot", header: ctJSON,
		body: emailBody("nobody@example.com"), wantStatus: 202})
	a.do(t, ts, call{name: "ForgotPasswordBadEmail", method: "POST", path: "/v1/password/forgot", header: ctJSON,
		body: emailBody("nobody"), req: reqAny, wantStatus: 400, wantCode: "invalid"})
	for i := range foyerhttp.ResetsPerAddress + 1 {
		c := call{name: "ForgotPasswordRepeatedly", method: "POST", path: "/v1/password/forgot", header: ctJSON,
			body: emailBody("often@example.com"), remote: "198.51.100.9:1234", wantStatus: 202}
		if i == foyerhttp.ResetsPerAddress {
			c.name, c.wantStatus, c.wantCode = "ForgotPasswordRateLimited", 429, "rate_limited"
		}
		a.do(t, ts, c)
	}
	resetLink := link("DevMailReset", "eve@example.com", "password_reset")
	w = a.do(t, ts, call{name: "LoginBeforeReset", method: "POST", path: "/v1/login", header: ctJSON,
		body: `{"email":"eve@example.com","password":"` + pw + `"}`, wantStatus: 200})
	sc = cookie(w, sessionCookieName)
	if sc == nil {
		t.Fatalf("LoginBeforeReset: no session cookie in %v", w.Header())
	}
	w = a.do(t, ts, call{name: "ResetPasswordSignedIn", method: "POST", path: "/v1/password/reset", header: join(ctJSON, session(sc.Value)),
		body: redeemBody(resetLink, "a new battery horse"), wantStatus: 200})
	if c := cookie(w, sessionCookieName); c == nil || c.MaxAge >= 0 {
		t.Errorf("ResetPasswordSignedIn: the ended session's cookie is not cleared: %v", w.Header())
	}
	a.do(t, ts, call{name: "ForgotPasswordAgain", method: "POST", path: "/v1/password/forgot", header: ctJSON,
		body: emailBody("eve@example.com"), wantStatus: 202})
	resetLink = link("DevMailResetAgain", "eve@example.com", "password_reset")
	a.do(t, ts, call{name: "ResetPassword", method: "POST", path: "/v1/password/reset", header: ctJSON,
		body: redeemBody(resetLink, "a new battery horse"), wantStatus: 200})
	a.do(t, ts, call{name: "ResetPasswordUsedLink", method: "POST", path: "/v1/password/reset", header: ctJSON,
		body: redeemBody(resetLink, "a new battery horse"), wantStatus: 400, wantCode: "token_invalid"})
	a.do(t, ts, call{name: "ResetPasswordEmptyToken", method: "POST", path: "/v1/password/reset", header: ctJSON,
		body: redeemBody("", "a new battery horse"), req: reqInvalid, wantStatus: 400, wantCode: "token_invalid"})
	// Failed redemptions from one address make it wait, on both link routes.
	for i := range foyerhttp.RedeemFailuresPerIP {
		a.do(t, ts, call{name: "ResetPasswordGuessing", method: "POST", path: "/v1/password/reset", header: ctJSON,
			body: redeemBody("guess"+strconv.Itoa(i), "a new battery horse"), remote: "198.51.100.10:1234", wantStatus: 400, wantCode: "token_invalid"})
	}
	a.do(t, ts, call{name: "ResetPasswordRateLimited", method: "POST", path: "/v1/password/reset", header: ctJSON,
		body: redeemBody("guess", "a new battery horse"), remote: "198.51.100.10:1234", wantStatus: 429, wantCode: "rate_limited"})
	a.do(t, ts, call{name: "CompleteRateLimited", method: "POST", path: "/v1/convert/complete", header: ctJSON,
		body: redeemBody("guess", pw), remote: "198.51.100.10:1234", wantStatus: 429, wantCode: "rate_limited"})

	// Server API conversion: a request like the visitor's, or vouched for.
	w = a.do(t, ts, call{name: "CreateNora", method: "POST", path: "/v1/users", header: join(api, ctJSON), body: `{"anonymous":true}`, wantStatus: 201})
	var nora userDoc
	decode(t, w, &nora)
	a.do(t, ts, call{name: "ConvertUser", method: "POST", path: "/v1/users/" + nora.ID + "/convert", header: join(api, ctJSON),
		body: emailBody("nora@example.com"), wantStatus: 202})
	a.do(t, ts, call{name: "ConvertUserVouched", method: "POST", path: "/v1/users/" + nora.ID + "/convert", header: join(api, ctJSON),
		body: `{"email":"nora@example.com","verified":true}`, wantStatus: 200})
	a.do(t, ts, call{name: "ConvertUserNotAnonymous", method: "POST", path: "/v1/users/" + nora.ID + "/convert", header: join(api, ctJSON),
		body: `{"email":"nora2@example.com","verified":true}`, wantStatus: 409, wantCode: "conflict"})
	w = a.do(t, ts, call{name: "CreateOlga", method: "POST", path: "/v1/users", header: join(api, ctJSON), body: `{"anonymous":true}`, wantStatus: 201})
	var olga userDoc
	decode(t, w, &olga)
	a.do(t, ts, call{name: "ConvertUserIdentifierTaken", method: "POST", path: "/v1/users/" + olga.ID + "/convert", header: join(api, ctJSON),
		body: `{"email":"nora@example.com","verified":true}`, wantStatus: 409, wantCode: "identifier_taken"})
	a.do(t, ts, call{name: "ConvertUserMissing", method: "POST", path: "/v1/users/" + missing + "/convert", header: join(api, ctJSON),
		body: emailBody("who@example.com"), wantStatus: 404, wantCode: "not_found"})
	a.do(t, ts, call{name: "ConvertUserBadEmail", method: "POST", path: "/v1/users/" + olga.ID + "/convert", header: join(api, ctJSON),
		body: emailBody("olga"), req: reqAny, wantStatus: 400, wantCode: "invalid"})
	for i := range foyerhttp.ConversionsPerUser + 1 {
		c := call{name: "ConvertUserRepeatedly", method: "POST", path: "/v1/users/" + olga.ID + "/convert", header: join(api, ctJSON),
			body: emailBody("olga" + strconv.Itoa(i) + "@example.com"), wantStatus: 202}
		if i == foyerhttp.ConversionsPerUser {
			c.name, c.wantStatus, c.wantCode = "ConvertUserRateLimited", 429, "rate_limited"
		}
		a.do(t, ts, c)
	}

	a.do(t, ts, call{name: "DevMail", method: "GET", path: "/v1/dev/mail", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "DevMailBadLimit", method: "GET", path: "/v1/dev/mail?limit=0", header: api, req: reqInvalid, wantStatus: 400, wantCode: "invalid"})

	w = a.do(t, ts, call{name: "LoginAfterReset", method: "POST", path: "/v1/login", header: ctJSON,
		body: `{"email":"eve@example.com","password":"a new battery horse"}`, wantStatus: 200})
	decode(t, w, &tokens)
	return tokens.AccessToken
}

// walkWebhooks walks webhook endpoints, their deliveries and a reaper run.
func walkWebhooks(t *testing.T, a *apiChecker, ts *testServer) {
	api := ts.api()
	ctJSON := jsonType
	missing := "0190c2a4-7e5b-7000-8000-000000000000"

	w := a.do(t, ts, call{name: "CreateWebhook", method: "POST", path: "/v1/webhooks", header: join(api, ctJSON),
		body: `{"url":"https://hooks.example.com/foyer","event_types":["user.anonymous.created","user.deleted"]}`, wantStatus: 201})
	var hook struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	decode(t, w, &hook)
	a.do(t, ts, call{name: "CreateWebhookAllTypes", method: "POST", path: "/v1/webhooks", header: join(api, ctJSON),
		body: `{"url":"http://hooks.example.com/all","enabled":false}`, wantStatus: 201})
	a.do(t, ts, call{name: "CreateWebhookLoopback", method: "POST", path: "/v1/webhooks", header: join(api, ctJSON),
		body: `{"url":"http://127.0.0.1:8080/hook"}`, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "CreateWebhookUnknownType", method: "POST", path: "/v1/webhooks", header: join(api, ctJSON),
		body: `{"url":"https://hooks.example.com/x","event_types":["user.exploded"]}`, req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "CreateWebhookNoURL", method: "POST", path: "/v1/webhooks", header: join(api, ctJSON),
		body: `{"event_types":[]}`, req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "ListWebhooks", method: "GET", path: "/v1/webhooks", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "GetWebhook", method: "GET", path: "/v1/webhooks/" + hook.ID, header: api, wantStatus: 200})
	a.do(t, ts, call{name: "GetWebhookMissing", method: "GET", path: "/v1/webhooks/" + missing, header: api, wantStatus: 404, wantCode: "not_found"})
	a.do(t, ts, call{name: "PatchWebhook", method: "PATCH", path: "/v1/webhooks/" + hook.ID, header: join(api, ctJSON),
		body: `{"event_types":[],"enabled":true}`, wantStatus: 200})
	a.do(t, ts, call{name: "PatchWebhookPrivateURL", method: "PATCH", path: "/v1/webhooks/" + hook.ID, header: join(api, ctJSON),
		body: `{"url":"http://10.0.0.8/hook"}`, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "PatchWebhookMissing", method: "PATCH", path: "/v1/webhooks/" + missing, header: join(api, ctJSON),
		body: `{"enabled":false}`, wantStatus: 404, wantCode: "not_found"})
	a.do(t, ts, call{name: "RotateWebhookSecret", method: "POST", path: "/v1/webhooks/" + hook.ID + "/rotate-secret", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "RotateWebhookSecretMissing", method: "POST", path: "/v1/webhooks/" + missing + "/rotate-secret", header: api,
		wantStatus: 404, wantCode: "not_found"})

	// The dispatcher's first step turns the events so far into deliveries.
	if _, err := ts.deliveries.FanOutEvents(t.Context(), foyer.MaxPageSize); err != nil {
		t.Fatal(err)
	}
	w = a.do(t, ts, call{name: "ListDeliveries", method: "GET", path: "/v1/deliveries?webhook_id=" + hook.ID + "&status=pending&limit=2", header: api, wantStatus: 200})
	var deliveries struct {
		Deliveries []struct {
			ID      string `json:"id"`
			EventID string `json:"event_id"`
			UserID  string `json:"user_id"`
		} `json:"deliveries"`
		NextCursor string `json:"next_cursor"`
	}
	decode(t, w, &deliveries)
	if len(deliveries.Deliveries) == 0 || deliveries.NextCursor == "" {
		t.Fatalf("ListDeliveries: want a full page and a next page, got %s", clip(w.Body.String()))
	}
	d := deliveries.Deliveries[0]
	a.do(t, ts, call{name: "ListDeliveriesNextPage", method: "GET", path: "/v1/deliveries?limit=2&cursor=" + deliveries.NextCursor, header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ListDeliveriesFiltered", method: "GET",
		path: "/v1/deliveries?event_id=" + d.EventID + "&user_id=" + d.UserID + "&status=succeeded", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ListDeliveriesBadStatus", method: "GET", path: "/v1/deliveries?status=lost", header: api,
		req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	if err := ts.deliveries.RecordAttempt(t.Context(), d.ID, foyer.DeliveryAttempt{StatusCode: 503, Latency: 120 * time.Millisecond,
		Response: "busy", Status: foyer.DeliveryFailed}); err != nil {
		t.Fatal(err)
	}
	a.do(t, ts, call{name: "Redeliver", method: "POST", path: "/v1/deliveries/" + d.ID + "/redeliver", header: api, wantStatus: 202})
	a.do(t, ts, call{name: "RedeliverMissing", method: "POST", path: "/v1/deliveries/" + missing + "/redeliver", header: api,
		wantStatus: 404, wantCode: "not_found"})

	a.do(t, ts, call{name: "DeleteWebhook", method: "DELETE", path: "/v1/webhooks/" + hook.ID, header: api, wantStatus: 204})
	a.do(t, ts, call{name: "DeleteWebhookAgain", method: "DELETE", path: "/v1/webhooks/" + hook.ID, header: api, wantStatus: 404, wantCode: "not_found"})

	a.do(t, ts, call{name: "ReaperDryRun", method: "POST", path: "/v1/reaper/runs", header: join(api, ctJSON), body: `{"dry_run":true}`, wantStatus: 200})
	a.do(t, ts, call{name: "ReaperRun", method: "POST", path: "/v1/reaper/runs", header: join(api, ctJSON), body: `{"dry_run":false}`, wantStatus: 200})
	a.do(t, ts, call{name: "ReaperNoDryRun", method: "POST", path: "/v1/reaper/runs", header: join(api, ctJSON), body: `{}`,
		req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
}

// walkApps walks applications: registration of both types, reads,
// changes, a new secret and deletion.
func walkApps(t *testing.T, a *apiChecker, ts *testServer) {
	api := ts.api()
	ctJSON := jsonType
	missing := "0190c2a4-7e5b-7000-8000-000000000000"

	w := a.do(t, ts, call{name: "CreateConfidentialApp", method: "POST", path: "/v1/apps", header: join(api, ctJSON),
		body:       `{"name":"Shop","type":"confidential","redirect_uris":["https://shop.example.com/cb"],"post_logout_redirect_uris":["https://shop.example.com/"]}`,
		wantStatus: 201})
	var shop struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	decode(t, w, &shop)
	if shop.Secret == "" {
		t.Fatalf("CreateConfidentialApp: no secret in %s", clip(w.Body.String()))
	}
	w = a.do(t, ts, call{name: "CreatePublicApp", method: "POST", path: "/v1/apps", header: join(api, ctJSON),
		body: `{"name":"Game","type":"public","redirect_uris":["http://localhost:5173/cb"]}`, wantStatus: 201})
	var game struct {
		ID string `json:"id"`
	}
	decode(t, w, &game)
	a.do(t, ts, call{name: "CreateAppBadRedirectURI", method: "POST", path: "/v1/apps", header: join(api, ctJSON),
		body: `{"name":"Game","type":"public","redirect_uris":["http://game.example.com/cb"]}`, req: reqAny, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "CreateAppNoRedirectURI", method: "POST", path: "/v1/apps", header: join(api, ctJSON),
		body: `{"name":"Game","type":"public","redirect_uris":[]}`, req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "CreateAppUnknownType", method: "POST", path: "/v1/apps", header: join(api, ctJSON),
		body: `{"name":"Game","type":"trusted","redirect_uris":["https://game.example.com/cb"]}`, req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "CreateAppSecretGiven", method: "POST", path: "/v1/apps", header: join(api, ctJSON),
		body: `{"name":"Game","type":"confidential","redirect_uris":["https://game.example.com/cb"],"secret":"foyer_cs_mine"}`,
		req:  reqInvalid, wantStatus: 400, wantCode: "malformed_json"})
	// The hosted sign-out page follows a post-logout URI the app
	// registered; a browser nobody is signed in on goes straight there.
	a.do(t, ts, call{name: "LogoutPage", method: "GET", path: "/logout", wantStatus: 200})
	w = a.do(t, ts, call{name: "LogoutPageToApp", method: "GET", path: "/logout?" + url.Values{"client_id": {shop.ID}, "post_logout_redirect_uri": {"https://shop.example.com/?state=s1"}}.Encode(), wantStatus: 303})
	if loc := w.Header().Get("Location"); loc != "https://shop.example.com/?state=s1" {
		t.Fatalf("LogoutPageToApp: Location %q, want the registered URI with its state", loc)
	}
	a.do(t, ts, call{name: "LogoutPageUnregistered", method: "GET", path: "/logout?" + url.Values{"client_id": {shop.ID}, "post_logout_redirect_uri": {"https://evil.example.com/"}}.Encode(), wantStatus: 200})
	a.do(t, ts, call{name: "ListApps", method: "GET", path: "/v1/apps", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "GetApp", method: "GET", path: "/v1/apps/" + shop.ID, header: api, wantStatus: 200})
	a.do(t, ts, call{name: "GetAppMissing", method: "GET", path: "/v1/apps/" + missing, header: api, wantStatus: 404, wantCode: "not_found"})
	a.do(t, ts, call{name: "GetAppNotUUID", method: "GET", path: "/v1/apps/nope", header: api, wantStatus: 404, wantCode: "not_found"})
	a.do(t, ts, call{name: "PatchApp", method: "PATCH", path: "/v1/apps/" + shop.ID, header: join(api, ctJSON),
		body:       `{"name":"Shop 2","redirect_uris":["https://shop.example.com/cb","https://shop.example.com/cb2"],"post_logout_redirect_uris":[]}`,
		wantStatus: 200})
	a.do(t, ts, call{name: "PatchAppType", method: "PATCH", path: "/v1/apps/" + game.ID, header: join(api, ctJSON),
		body: `{"type":"confidential"}`, wantStatus: 400, wantCode: "invalid"})
	a.do(t, ts, call{name: "PatchAppMissing", method: "PATCH", path: "/v1/apps/" + missing, header: join(api, ctJSON),
		body: `{"name":"Nobody"}`, wantStatus: 404, wantCode: "not_found"})
	a.do(t, ts, call{name: "NewAppSecret", method: "POST", path: "/v1/apps/" + shop.ID + "/secret", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "NewAppSecretPublic", method: "POST", path: "/v1/apps/" + game.ID + "/secret", header: api, wantStatus: 409, wantCode: "conflict"})
	a.do(t, ts, call{name: "NewAppSecretMissing", method: "POST", path: "/v1/apps/" + missing + "/secret", header: api, wantStatus: 404, wantCode: "not_found"})
	a.do(t, ts, call{name: "DeleteApp", method: "DELETE", path: "/v1/apps/" + shop.ID, header: api, wantStatus: 204})
	a.do(t, ts, call{name: "DeleteAppAgain", method: "DELETE", path: "/v1/apps/" + shop.ID, header: api, wantStatus: 404, wantCode: "not_found"})
}

// walkPrivacy walks exports and the audit log. registered is the access
// token of a signed-in registered user.
func walkPrivacy(t *testing.T, a *apiChecker, ts *testServer, registered string) {
	api := ts.api()
	missing := "0190c2a4-7e5b-7000-8000-000000000000"

	w := a.do(t, ts, call{name: "ExportMeRegistered", method: "GET", path: "/v1/me/export", header: bearer(registered), wantStatus: 200})
	var export struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	decode(t, w, &export)
	visitor := ts.signup(t)
	a.do(t, ts, call{name: "ExportMeAnonymous", method: "GET", path: "/v1/me/export", header: withCookie(visitor.Token), wantStatus: 200})
	a.do(t, ts, call{name: "ExportUser", method: "GET", path: "/v1/users/" + export.User.ID + "/export", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ExportUserMissing", method: "GET", path: "/v1/users/" + missing + "/export", header: api, wantStatus: 404, wantCode: "not_found"})

	w = a.do(t, ts, call{name: "ListAudit", method: "GET", path: "/v1/audit?limit=3", header: api, wantStatus: 200})
	var audit struct {
		NextCursor string `json:"next_cursor"`
	}
	decode(t, w, &audit)
	if audit.NextCursor == "" {
		t.Fatalf("ListAudit: no next_cursor in %s", clip(w.Body.String()))
	}
	a.do(t, ts, call{name: "ListAuditNextPage", method: "GET", path: "/v1/audit?limit=3&cursor=" + audit.NextCursor, header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ListAuditFiltered", method: "GET",
		path: "/v1/audit?actor=api_key:" + ts.apiKeyID + "&target=" + missing + "&since=2020-01-01T00:00:00Z", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ListAuditBadSince", method: "GET", path: "/v1/audit?since=yesterday", header: api,
		req: reqInvalid, wantStatus: 400, wantCode: "invalid"})
}

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
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
	case "anonymousCookie":
		if c, err := r.Cookie(in.SecurityScheme.Name); err != nil || c.Value == "" {
			return in.NewError(errors.New("no anonymous cookie"))
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
	vr := request(c.method, c.path, c.body, c.header...)
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

	w := ts.serve(request(c.method, c.path, c.body, c.header...))
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

	// Server API: the event log, which now holds events of every kind
	// the calls above caused.
	a.do(t, ts, call{name: "ListEvents", method: "GET", path: "/v1/events?limit=500", header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ListEventsFiltered", method: "GET",
		path:   "/v1/events?type=user.deleted&user_id=" + carol.ID + "&since=2020-01-01T00:00:00Z&until=2100-01-01T00:00:00Z&limit=10",
		header: api, wantStatus: 200})
	a.do(t, ts, call{name: "ListEventsBadType", method: "GET", path: "/v1/events?type=user.exploded", header: api,
		req: reqInvalid, wantStatus: 400, wantCode: "invalid"})

	// Generic errors, derived from the document itself so that every
	// operation gets them: 401 without a credential, 415 and 413 for every
	// request body.
	visitor := ts.signup(t)
	big := "{" + strings.Repeat(" ", foyerhttp.DefaultMaxBodyBytes) + "}"
	for _, op := range a.operations() {
		method, path, _ := strings.Cut(op, " ")
		o := a.operation(op)
		schemes := a.security(o)
		var cred []string
		switch {
		case slices.Contains(schemes, "apiKey"):
			cred = api
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

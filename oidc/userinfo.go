package oidc

import (
	"bytes"
	"encoding/json"
	"net/http"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// maxUserinfoError bounds the error body of op's userinfo endpoint that
// userinfo reads: a JSON error of a few dozen bytes.
const maxUserinfoError = 4 << 10

// userinfo serves /oauth2/userinfo through op, which keeps its CORS
// headers, and answers its refusals as OpenID Connect Core §5.3.3 asks,
// with the errors of RFC 6750 §3.1: 401 and a Bearer challenge,
// error="invalid_token", for a token that is not the access token of a
// live app session (op answers 403 without a challenge, or a bare 401),
// and a bare challenge when there is no token at all. An outage, which
// SetUserinfoFromToken reports as server_error, is a 500.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	// The form is parsed on r itself, so that op and ParseUserinfoRequest,
	// which work on copies of r, read the form it holds rather than a body
	// that is gone.
	_ = r.ParseForm() // a form that cannot be read holds no token
	tok, _ := op.ParseUserinfoRequest(r, p.op.Decoder())
	c := &refusalCapture{ResponseWriter: w}
	p.op.ServeHTTP(c, r)
	if c.status == 0 {
		return
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Del("X-Content-Type-Options")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	var refused struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(c.body.Bytes(), &refused) == nil && refused.Error == string(zoidc.ServerError) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write(c.body.Bytes())
		return
	}
	if tok == "" {
		h.Set("WWW-Authenticate", "Bearer")
		h.Del("Content-Type")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	const why = "The access token is invalid, expired or not one of an application's session."
	h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+why+`"`)
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(map[string]string{"error": "invalid_token", "error_description": why})
}

// refusalCapture passes a response through unless its status is 401 or
// 403, whose (bounded) body it keeps instead.
type refusalCapture struct {
	http.ResponseWriter
	status int // the refusal's status, or 0
	body   bytes.Buffer
}

func (c *refusalCapture) WriteHeader(status int) {
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		c.status = status
		return
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *refusalCapture) Write(b []byte) (int, error) {
	if c.status == 0 {
		return c.ResponseWriter.Write(b)
	}
	if room := maxUserinfoError - c.body.Len(); room > 0 {
		c.body.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

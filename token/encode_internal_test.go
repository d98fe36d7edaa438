package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4/jwt"
)

// FuzzAppendClaims checks that appendClaims writes the JSON that
// json.Marshal writes for the same wireClaims: the same members with the
// same values in the same order. (The bytes may differ in how a control
// character is escaped: jwt.Audience encodes with go-jose's own copy of
// encoding/json.)
func FuzzAppendClaims(f *testing.F) {
	f.Add("https://foyer.test", "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091", "foyer-test", int64(1772600767), int64(1804136767), "AAAAAAAAAAAAAAAAAAAAAA", TypeAnonymous, true, int64(0), "")
	f.Add("https://foyer.test", "u", "a\x00b", int64(-1), int64(0), "jti", TypeAccess, false, int64(-7), "0195a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091")
	f.Add("<iss>&", "zoë", "one,two", int64(0), int64(1<<62), "\"", TypeSession, false, int64(1<<62), "s\\id")
	f.Add("", "", "", int64(0), int64(0), "", "", false, int64(0), "")
	f.Add("\f", "\b", "\f", int64(0), int64(45), "0", "", false, int64(0), "\x7f")
	f.Add("bad\xffutf8", "\u2028", "\xe2\x80\xa9,", int64(1), int64(2), "x", TypeVended, true, int64(3), "\t")
	f.Fuzz(func(t *testing.T, iss, sub, aud string, iat, exp int64, jti, typ string, anonymous bool, ep int64, sid string) {
		var audience []string
		if aud != "" {
			audience = strings.Split(aud, ",")
		}
		c := &Claims{Issuer: iss, Subject: sub, Audience: audience, ID: jti, Type: typ, Anonymous: anonymous, Epoch: ep, SessionID: sid}
		want, err := json.Marshal(wireClaims{
			Issuer:    c.Issuer,
			Subject:   c.Subject,
			Audience:  c.Audience,
			IssuedAt:  (*jwt.NumericDate)(&iat),
			Expiry:    (*jwt.NumericDate)(&exp),
			ID:        c.ID,
			Type:      c.Type,
			Anonymous: c.Anonymous,
			Epoch:     c.Epoch,
			SessionID: c.SessionID,
		})
		if err != nil {
			t.Fatal(err)
		}
		got := appendClaims(nil, c, iat, exp)
		if !bytes.Equal(got, want) && !sameJSON(t, got, want) {
			t.Fatalf("appendClaims wrote\n%s\njson.Marshal writes\n%s", got, want)
		}
	})
}

// sameJSON reports whether a and b are valid JSON objects with the same
// members, in the same order, with the same values.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	tokens := func(doc []byte) []any {
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var out []any
		for {
			tok, err := dec.Token()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("%s: %v", doc, err)
				}
				return out
			}
			out = append(out, tok)
		}
	}
	ta, tb := tokens(a), tokens(b)
	if len(ta) != len(tb) {
		return false
	}
	for i := range ta {
		if ta[i] != tb[i] {
			return false
		}
	}
	return true
}

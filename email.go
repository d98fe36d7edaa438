package foyer

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxEmailLength is the longest address accepted (RFC 5321 path limit).
const MaxEmailLength = 254

// NormalizeEmail returns the canonical form of an email address, the only
// form Foyer stores, compares and sends mail to:
//
//   - surrounding white space is trimmed;
//   - the address is put in Unicode normalisation form NFC, so that the same
//     characters typed differently compare equal;
//   - the whole address is lower-cased (the domain is case-insensitive by
//     RFC 5321, and mailbox providers treat the local part the same way,
//     so "Ann@X.org" and "ann@x.org" are one identity);
//   - it must be a bare addr-spec (no display name, no angle brackets, no
//     comments), at most MaxEmailLength bytes, with a dot in the domain and
//     no control or white-space characters.
//
// Returns EInvalid for anything else.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", Errorf(EInvalid, "The email address is not valid.")
	}
	s = strings.ToLower(norm.NFC.String(s))
	if s == "" || len(s) > MaxEmailLength {
		return "", Errorf(EInvalid, "The email address is not valid.")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == '(' || r == ')' || r == ',' || r == ';' || r == '"' || r == '\\' {
			return "", Errorf(EInvalid, "The email address is not valid.")
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.Count(s, "@") != 1 {
		return "", Errorf(EInvalid, "The email address is not valid.")
	}
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", Errorf(EInvalid, "The email address is not valid.")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", Errorf(EInvalid, "The email address is not valid.")
	}
	return s, nil
}

package foyer_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/foyerhq/foyer"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantCode       string
	}{
		{"OK", "ann@example.org", "ann@example.org", ""},
		{"OK/Trim", "  ann@example.org\t\n", "ann@example.org", ""},
		{"OK/LowerDomain", "ann@EXAMPLE.Org", "ann@example.org", ""},
		{"OK/LowerLocal", "Ann.Lee@example.org", "ann.lee@example.org", ""},
		{"OK/Plus", "ann+shop@example.org", "ann+shop@example.org", ""},
		// "é" typed as e + combining acute (NFD) equals the precomposed form.
		{"OK/NFC", "re\u0301my@example.org", "r\u00e9my@example.org", ""},
		{"OK/Subdomain", "a@mail.example.co.uk", "a@mail.example.co.uk", ""},
		{"ErrInvalid/Empty", "", "", foyer.EInvalid},
		{"ErrInvalid/NoAt", "ann.example.org", "", foyer.EInvalid},
		{"ErrInvalid/TwoAt", "a@b@example.org", "", foyer.EInvalid},
		{"ErrInvalid/NoDomainDot", "ann@localhost", "", foyer.EInvalid},
		{"ErrInvalid/DisplayName", "Ann <ann@example.org>", "", foyer.EInvalid},
		{"ErrInvalid/InnerSpace", "ann lee@example.org", "", foyer.EInvalid},
		{"ErrInvalid/Newline", "ann@example.org\r\nBcc: x@y.org", "", foyer.EInvalid},
		{"ErrInvalid/Comma", "a@example.org,b@example.org", "", foyer.EInvalid},
		{"ErrInvalid/TrailingDot", "ann@example.org.", "", foyer.EInvalid},
		{"ErrInvalid/DoubleDot", "ann@example..org", "", foyer.EInvalid},
		{"ErrInvalid/TooLong", strings.Repeat("a", 250) + "@example.org", "", foyer.EInvalid},
		{"ErrInvalid/BadUTF8", "ann\xff@example.org", "", foyer.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := foyer.NormalizeEmail(tt.in)
			if code := foyer.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("NormalizeEmail(%q) code=%q, want %q", tt.in, code, tt.wantCode)
			}
			if got != tt.want {
				t.Fatalf("NormalizeEmail(%q)=%q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzNormalizeEmail checks that accepted addresses are canonical: valid
// UTF-8, bounded, one @, no white space or header-breaking characters, and
// normalising again changes nothing.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ann@example.org", " A@B.CO ", "re\u0301my@example.org", "a@b", "x\r\n@y.z", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := foyer.NormalizeEmail(in)
		if err != nil {
			if foyer.ErrorCode(err) != foyer.EInvalid {
				t.Fatalf("code=%q, want invalid", foyer.ErrorCode(err))
			}
			return
		}
		if !utf8.ValidString(got) || len(got) > foyer.MaxEmailLength || strings.Count(got, "@") != 1 {
			t.Fatalf("accepted malformed %q", got)
		}
		if strings.ContainsAny(got, " \t\r\n<>,;\"") {
			t.Fatalf("accepted header-breaking %q", got)
		}
		again, err := foyer.NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q (%v)", got, again, err)
		}
	})
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name, pw string
		wantCode string
	}{
		{"OK/Min", "12345678", ""},
		{"OK/Unicode", "пароль-пароль", ""},
		{"OK/Max", strings.Repeat("é", foyer.MaxPasswordLength), ""},
		{"ErrInvalidPassword/Short", "1234567", foyer.EInvalidPassword},
		{"ErrInvalidPassword/Long", strings.Repeat("a", foyer.MaxPasswordLength+1), foyer.EInvalidPassword},
		{"ErrInvalidPassword/BadUTF8", "abcdefgh\xff", foyer.EInvalidPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := foyer.ErrorCode(foyer.ValidatePassword(tt.pw)); code != tt.wantCode {
				t.Fatalf("code=%q, want %q", code, tt.wantCode)
			}
		})
	}
}

func TestErrorCode(t *testing.T) {
	if got := foyer.ErrorCode(nil); got != "" {
		t.Fatalf("ErrorCode(nil)=%q", got)
	}
	wrapped := fmtWrap(foyer.Errorf(foyer.ENotFound, "User not found."))
	if got := foyer.ErrorCode(wrapped); got != foyer.ENotFound {
		t.Fatalf("ErrorCode(wrapped)=%q, want not_found", got)
	}
	if got := foyer.ErrorMessage(wrapped); got != "User not found." {
		t.Fatalf("ErrorMessage=%q", got)
	}
	plain := strings.NewReader("").UnreadByte() // any non-*Error
	if got := foyer.ErrorCode(plain); got != foyer.EInternal {
		t.Fatalf("ErrorCode(plain)=%q, want internal", got)
	}
	if got := foyer.ErrorMessage(plain); strings.Contains(got, "UnreadByte") || got == "" {
		t.Fatalf("ErrorMessage leaks or is empty: %q", got)
	}
}

func fmtWrap(err error) error { return fmt.Errorf("outer: %w", err) }

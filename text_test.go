package foyer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"OK/Clean", "Mozilla/5.0 (X11; Linux) ünï", "Mozilla/5.0 (X11; Linux) ünï"},
		{"OK/Empty", "", ""},
		{"OK/NUL", "a\x00b\x00", "ab"},
		{"OK/InvalidUTF8", "a\xffb\xc3", "a\uFFFDb\uFFFD"},
		{"OK/Both", "\x00\xff\xfe\x00x", "\uFFFDx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CleanText(tt.in); got != tt.want {
				t.Fatalf("CleanText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzCleanText checks that CleanText always returns valid UTF-8 without
// NUL, leaves such text as it is, and is idempotent.
func FuzzCleanText(f *testing.F) {
	f.Add("agent")
	f.Add("a\x00b")
	f.Add("\xff\xc3(")
	f.Fuzz(func(t *testing.T, s string) {
		got := CleanText(s)
		if !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 {
			t.Fatalf("CleanText(%q) = %q is not clean", s, got)
		}
		if CleanText(got) != got {
			t.Fatalf("CleanText is not idempotent on %q", s)
		}
		if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && got != s {
			t.Fatalf("CleanText changed clean text %q to %q", s, got)
		}
	})
}

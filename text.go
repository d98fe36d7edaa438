package foyer

import (
	"strings"
	"unicode/utf8"
)

// CleanText returns s as text that every store can keep: each invalid
// UTF-8 sequence becomes U+FFFD and NUL characters are dropped.
// PostgreSQL refuses both in text columns while SQLite keeps them, so the
// stores pass text that describes a client rather than names something
// (a session's user agent and address) through CleanText instead of
// failing the operation that records it, and both stores keep the same.
func CleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

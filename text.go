package foyer

import (
	"strings"
	"unicode/utf8"
)

// ValidText reports whether every store can keep s as text: it is valid
// UTF-8 and holds no NUL character. PostgreSQL refuses anything else in a
// text column, while SQLite would keep it.
func ValidText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// CleanText returns s as text that every store can keep: each invalid
// UTF-8 sequence becomes U+FFFD and NUL characters are dropped.
// The stores pass text that describes what happened rather than names
// something (a session's user agent and address, the error of a failed
// delivery) through CleanText instead of failing the operation that
// records it, and both stores keep the same; text that names or selects
// something and is not ValidText is refused with EInvalid.
func CleanText(s string) string {
	if ValidText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

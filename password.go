package foyer

import "unicode/utf8"

// Password length limits, in characters, following NIST SP 800-63B: no
// composition rules, a minimum of 8 and a maximum generous enough for
// passphrases and password managers.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 256
)

// ValidatePassword returns EInvalidPassword unless p is valid UTF-8 of
// MinPasswordLength to MaxPasswordLength characters.
func ValidatePassword(p string) error {
	if !utf8.ValidString(p) {
		return Errorf(EInvalidPassword, "The password is not valid text.")
	}
	n := utf8.RuneCountInString(p)
	if n < MinPasswordLength || n > MaxPasswordLength {
		return Errorf(EInvalidPassword, "The password must be %d to %d characters long.", MinPasswordLength, MaxPasswordLength)
	}
	return nil
}

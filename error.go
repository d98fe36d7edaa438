package foyer

import (
	"errors"
	"fmt"
)

// Error codes. They are part of the public API and documented in
// docs/errors.md: never rename one. Each maps to exactly one HTTP status in
// the http package.
const (
	// EInvalid: the request is well-formed JSON but a value is not acceptable (400).
	EInvalid = "invalid"
	// EMalformedJSON: the body is not valid JSON or has unknown fields (400).
	EMalformedJSON = "malformed_json"
	// EUnauthorized: no credential, or one that is not valid (401).
	EUnauthorized = "unauthorized"
	// EInvalidCredentials: an email and password that do not match an account (401).
	EInvalidCredentials = "invalid_credentials"
	// EForbidden: the credential is valid but may not do this (403).
	EForbidden = "forbidden"
	// ENotFound: the resource does not exist (404).
	ENotFound = "not_found"
	// EMethodNotAllowed: the path exists but not with this method; the
	// Allow header lists the methods it takes (405).
	EMethodNotAllowed = "method_not_allowed"
	// EConflict: the change conflicts with the current state (409).
	EConflict = "conflict"
	// EPreconditionFailed: If-Match did not match the current version (412).
	EPreconditionFailed = "precondition_failed"
	// ETooLarge: the body is larger than allowed (413).
	ETooLarge = "payload_too_large"
	// EUnsupportedMediaType: the Content-Type is not accepted (415).
	EUnsupportedMediaType = "unsupported_media_type"
	// ERateLimited: too many requests; Retry-After says when to try again (429).
	ERateLimited = "rate_limited"
	// ETokenInvalid: a conversion or reset link that is unknown, expired,
	// already used or superseded by a newer request (400).
	ETokenInvalid = "token_invalid"
	// EInvalidPassword: a password outside the allowed length (400).
	EInvalidPassword = "invalid_password"
	// EIdentifierTaken: completing a conversion for an address that another
	// account registered in the meantime (409). Only returned to someone who
	// already proved they own the mailbox, so it reveals nothing new.
	EIdentifierTaken = "identifier_taken"
	// EInternal: anything else; the cause is logged, never shown (500).
	EInternal = "internal"
	// EUnavailable: a dependency such as the database is down (503).
	EUnavailable = "unavailable"
)

// Error is an error the client is allowed to see.
// Err holds the internal cause; it is logged, never serialized.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or EInternal if err is not an *Error.
// It returns "" for a nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the client-visible message of err. Errors that are
// not an *Error get a generic message so that internal details never leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "An internal error occurred."
}

package foyer

import (
	"context"
	"encoding/json"
	"time"
)

// ConversionRequest asks to turn an anonymous user into a registered one
// with an email address whose ownership is yet to be proven.
type ConversionRequest struct {
	UserID string
	// Email is the normalised address; see NormalizeEmail.
	Email string
	// TokenHash is the SHA-256 of the single-use link token. The raw token
	// only travels in the queued mail.
	TokenHash []byte
	// Token is the raw token, put in the queued mail so the mail worker can
	// build the link from the configured public URL.
	Token     string
	ExpiresAt time.Time
}

// ConversionService runs progressive registration (DESIGN §1–2).
type ConversionService interface {
	// RequestConversion records req.Email as the user's pending identifier,
	// replacing (and killing the link of) any earlier request, records
	// user.conversion.requested and queues one mail in the same
	// transaction: MailConversion with the link when the address is free,
	// or MailConversionExisting to the owner when a registered account
	// already has it. Either way the caller sees the same outcome, so the
	// response cannot reveal whether the address exists.
	// Returns ENotFound, or EConflict if the user is not anonymous.
	RequestConversion(ctx context.Context, req ConversionRequest) error

	// CompleteConversion redeems the link whose token hashes to tokenHash
	// and, in one transaction: sets the email (verified) and the password
	// hash, clears the anonymous marker, sets ConvertedAt, increases the
	// epoch (revoking every earlier token), deletes every conversion
	// request of the user and every authorization request it signed in
	// for, so no earlier code can be redeemed, and records user.converted
	// and user.email.verified.
	//
	// When s is not nil and s.UserID is the id of the converted user, the
	// same transaction also creates the session s, as CreateSession does
	// (setting ID, CreatedAt and LastUsedAt, and recording
	// user.login.success): the client that holds the anonymous credential
	// gets its session with the conversion, or neither happens. When s is
	// nil or names another user, no session is created and s is left
	// alone; callers tell the two apart by s.ID.
	//
	// Returns ETokenInvalid for an unknown, expired, used or superseded
	// token, EIdentifierTaken if another account took the address
	// meanwhile, EInvalid without a password hash or for a session without
	// a refresh hash, EConflict if the session's refresh hash is in use;
	// on error nothing changes.
	CompleteConversion(ctx context.Context, tokenHash []byte, passwordHash string, s *Session) (*User, error)

	// ConvertUser is the audited admin conversion (DESIGN §2.2): the
	// caller vouches for email. It makes the user registered with a
	// verified email and no password (the person sets one by password
	// reset), increases the epoch, cancels pending conversion requests,
	// deletes every authorization request the user signed in for, and
	// records user.converted, whose data names actor ("api_key:<id>",
	// "admin:<id>") beside the user, and user.email.verified, in one
	// transaction, so the conversion is never without its audit record.
	// Returns ENotFound, EConflict if not anonymous, EIdentifierTaken if
	// the email has an account, EInvalid without an actor.
	ConvertUser(ctx context.Context, id, email, actor string) (*User, error)
}

// PasswordResetRequest asks for a password reset link.
type PasswordResetRequest struct {
	Email     string // normalised
	TokenHash []byte
	Token     string
	ExpiresAt time.Time
}

// CredentialService signs registered users in and resets passwords.
type CredentialService interface {
	// FindCredential returns the registered user whose verified email is
	// email, with its password hash ("" if none). A pending address never
	// matches. Returns ENotFound.
	FindCredential(ctx context.Context, email string) (*User, string, error)

	// RequestPasswordReset queues a reset mail if a registered user has the
	// verified email, replacing earlier reset links; otherwise it does
	// nothing. It never reports which happened.
	RequestPasswordReset(ctx context.Context, req PasswordResetRequest) error

	// ResetPassword redeems a reset link: sets the new password hash,
	// increases the epoch, deletes every session, every authorization
	// request the user signed in for (so a code issued before cannot be
	// redeemed after) and every reset link of the user and records
	// user.password.reset, in one transaction. Returns ETokenInvalid.
	ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string) (*User, error)

	// RecordLoginFailure records user.login.failed for the account with
	// email, if there is one.
	RecordLoginFailure(ctx context.Context, email string) error
}

// Alias records that an anonymous account was merged into another one, so
// apps can re-key their own rows from From to Into.
type Alias struct {
	From      string    `json:"from"`
	Into      string    `json:"into"`
	CreatedAt time.Time `json:"created_at"`
}

// MergeService merges anonymous accounts into registered ones.
type MergeService interface {
	// MergeUsers moves the data of the anonymous user from into the
	// registered user into under policy, deletes from, records the alias
	// from → into and user.merged {from, into}, in one transaction.
	// Returns ENotFound, EConflict if from is not anonymous or into is,
	// ETooLarge if the merged data would exceed MaxDataSize.
	MergeUsers(ctx context.Context, from, into string, policy MergePolicy) (*User, error)
	// FindAlias returns the alias of a merged-away id. Returns ENotFound.
	FindAlias(ctx context.Context, from string) (*Alias, error)
}

// Mail kinds.
const (
	MailConversion         = "conversion"          // "save your progress": link to set a password
	MailConversionExisting = "conversion_existing" // to an owner: someone tried to save progress with your address
	MailPasswordReset      = "password_reset"
)

// Mail is a queued outbound message. It is written in the same transaction
// as the change that causes it and sent by the mail worker, which renders
// the template for Kind with Data and retries until it succeeds.
type Mail struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	To        string          `json:"to"`
	UserID    string          `json:"user_id,omitempty"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
	Attempts  int             `json:"attempts"`
	// NextAttemptAt is when the worker may claim it next.
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
}

// MailData is the JSON document stored in Mail.Data: what the mail worker
// needs to render a message, nothing more. Stores write it, the mail
// package reads it, so both sides agree on one shape.
type MailData struct {
	// Token is the raw single-use token of a MailConversion or
	// MailPasswordReset link. It is empty for MailConversionExisting,
	// whose message carries no link that changes anything.
	Token string `json:"token,omitempty"`
	// ExpiresAt is when the link stops working.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// MailService is the durable mail queue.
type MailService interface {
	// ClaimMail returns up to limit unsent messages due at now and pushes
	// their NextAttemptAt to now+lease and increments Attempts, so a
	// crashed worker's claim lapses and another takes it. On PostgreSQL
	// concurrent claimers never get the same message.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Mail, error)
	// MarkMailSent records that the message was delivered to the SMTP
	// server.
	MarkMailSent(ctx context.Context, id string) error
	// MarkMailFailed records a failed attempt and when to retry.
	MarkMailFailed(ctx context.Context, id string, next time.Time, reason string) error
	// FindMail returns up to limit of the newest messages, optionally only
	// those to one address (the development mailbox).
	FindMail(ctx context.Context, to *string, limit int) ([]*Mail, error)
}

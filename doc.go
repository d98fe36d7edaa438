// Package foyer is the domain of Foyer, an identity service whose
// first-class user is the anonymous visitor: users and their lifecycle
// (anonymous, pending conversion, registered, merged, reaped), the rules
// that keep that lifecycle safe, errors with stable codes, and the small
// service interfaces that the storage packages (sqlite, postgres)
// implement and the transport packages (http, cmd/foyer) consume.
//
// This package imports nothing from the module.
package foyer

// Package webhook delivers Foyer's events to the endpoints that subscribe
// to them, as the Standard Webhooks specification describes: it signs
// requests (and verifies them, for receivers), refuses to connect to
// private addresses, and runs the Dispatcher that drains the durable
// delivery queue of a foyer.DeliveryService with retries.
//
// It imports the foyer package and the standard library only; it must not
// import a store (sqlite, postgres) or the HTTP server, which use it.
package webhook

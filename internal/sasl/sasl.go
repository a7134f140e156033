// Package sasl is the server side of Kafka's SASL mechanisms: PLAIN
// (RFC 4616) against users from a JAAS configuration, SCRAM-SHA-256 and
// SCRAM-SHA-512 (RFC 5802, RFC 7677) against the credentials stored in the
// metadata image, and OAUTHBEARER (RFC 7628) with Kafka's default unsecured
// token validator (oauthbearer.go). It knows nothing of the wire: internal/server drives an
// Exchange with the tokens of SaslAuthenticate requests (or raw frames
// after a version 0 SaslHandshake).
//
// Failures carry Kafka's messages: where Kafka's SaslServer throws a
// SaslAuthenticationException its message goes to the client; for every
// other failure the client gets the generic "Authentication failed during
// authentication due to invalid credentials with SASL mechanism X", so an
// unknown user cannot be told from a wrong password.
package sasl

import (
	"slices"

	"github.com/sluice-io/sluice/internal/metadata"
)

// Error is a failed authentication: Message is what the client is told
// (Kafka's wording), Reason what the broker logs. Neither holds a password.
type Error struct {
	Message string
	Reason  string
}

func (e *Error) Error() string { return e.Message }

// generic is Kafka's answer to a SaslException: no detail for the client.
func generic(mechanism, reason string) *Error {
	return &Error{Message: "Authentication failed during authentication due to invalid credentials with SASL mechanism " + mechanism, Reason: reason}
}

// specific is a SaslAuthenticationException: its message goes to the client.
func specific(msg string) *Error { return &Error{Message: msg, Reason: msg} }

// Exchange is one authentication in progress.
type Exchange interface {
	// Step takes the client's next token and returns the server's reply;
	// done reports a completed authentication. A non-nil error (an
	// *Error) ends the exchange.
	Step(token []byte) (reply []byte, done bool, err error)
	// User is the authenticated user name once Step reported done.
	User() string
}

// ScramLookup returns a user's stored credential for a mechanism (Kafka's
// type numbers, metadata.ScramSHA256/512).
type ScramLookup func(user string, mechanism int8) (metadata.ScramCredential, bool)

// Config configures the mechanisms of one listener.
type Config struct {
	Mechanisms []string          // enabled, in the order the handshake lists them
	PlainUsers map[string]string // user → password, for PLAIN
	Scram      ScramLookup       // credentials, for SCRAM-SHA-*
}

// Authenticator starts exchanges for the mechanisms of one listener.
type Authenticator struct{ cfg Config }

// New returns an authenticator for cfg.
func New(cfg Config) *Authenticator { return &Authenticator{cfg: cfg} }

// Mechanisms lists the enabled mechanisms.
func (a *Authenticator) Mechanisms() []string { return slices.Clone(a.cfg.Mechanisms) }

// Start begins an exchange for mechanism; ok is false when the mechanism
// is not enabled (UNSUPPORTED_SASL_MECHANISM).
func (a *Authenticator) Start(mechanism string) (ex Exchange, ok bool) {
	if !slices.Contains(a.cfg.Mechanisms, mechanism) {
		return nil, false
	}
	switch mechanism {
	case "PLAIN":
		return &plainExchange{users: a.cfg.PlainUsers}, true
	case "SCRAM-SHA-256":
		return newScram(scramSHA256, a.cfg.Scram), true
	case "SCRAM-SHA-512":
		return newScram(scramSHA512, a.cfg.Scram), true
	case "OAUTHBEARER":
		return newOAuthBearer(nil), true
	}
	return nil, false
}

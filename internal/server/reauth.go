package server

import (
	"errors"
	"strings"
	"time"
)

// Re-authentication (KIP-368), as Kafka's SaslServerAuthenticator and
// KafkaChannel: a successful authentication starts a session whose
// lifetime is connections.max.reauth.ms of the mechanism, shortened to the
// credential's expiry (an OAUTHBEARER token's exp) when there is one; 0
// and no expiry is a session without end. SaslAuthenticate v1+ tells the
// client the lifetime. While the session lasts, a SaslHandshake on the
// connection starts a re-authentication (at most one a second; a handshake
// sooner than that, or on a session without end, reaches the handler and
// is ILLEGAL_SASL_STATE): the exchange runs as the first one did, must use
// the same mechanism and authenticate the same user, and starts a new
// session. Requests already queued are answered meanwhile; any other
// request during the exchange closes the connection. A request that
// arrives after the session ended closes the connection unanswered, the
// client having let it expire: Kafka checks on arrival, not with a timer.

// errSessionExpired ends the read loop of a connection whose session ended.
var errSessionExpired = errors.New("SASL session expired")

// expiring is an exchange whose credential expires (OAUTHBEARER).
type expiring interface{ Expiry() time.Time }

// minReauthInterval is how often a connection may re-authenticate.
const minReauthInterval = time.Second

// inSession handles one request of an authenticated connection whose
// session has a lifetime: it closes an expired one and starts a
// re-authentication on SaslHandshake.
func (c *conn) inSession(req *Request, body []byte, start time.Time) (handled bool, err error) {
	now := time.Now()
	if now.After(c.session) {
		return false, errSessionExpired
	}
	if req.Key != keySaslHandshake || !c.lastReauth.IsZero() && now.Sub(c.lastReauth) < minReauthInterval {
		return false, nil
	}
	c.lastReauth, c.reauth, c.reauthBad = now, true, ""
	c.auth = authHandshake
	return true, c.handshake(req, body, start)
}

// startSession sets when the session that authenticated at now ends and
// returns its lifetime in ms (0: no end).
func (c *conn) startSession(now time.Time) int64 {
	limit := c.maxReauth[c.info.Mechanism]
	var exp time.Time
	if e, ok := c.ex.(expiring); ok {
		exp = e.Expiry()
	}
	if limit <= 0 && exp.IsZero() {
		c.session = time.Time{}
		return 0
	}
	life := limit
	if !exp.IsZero() && (limit <= 0 || exp.Sub(now) < limit) {
		life = max(exp.Sub(now), 0)
	}
	c.session = now.Add(life)
	return life.Milliseconds()
}

// failureText is what the client is told of a failed exchange; Kafka
// words a failed re-authentication as such.
func (c *conn) failureText(err error) string {
	msg := err.Error()
	if c.reauth {
		msg = strings.Replace(msg, "during authentication", "during re-authentication", 1)
	}
	return msg
}

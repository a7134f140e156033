package sasl

import (
	"crypto/subtle"
	"fmt"
	"strings"
)

// plainExchange is SASL/PLAIN (RFC 4616): one client message,
// [authzid] NUL authcid NUL passwd, checked against the JAAS users.
type plainExchange struct {
	users map[string]string
	user  string
	done  bool
}

func (p *plainExchange) Step(token []byte) ([]byte, bool, error) {
	const mech = "PLAIN"
	if p.done {
		return nil, false, generic(mech, "unexpected token after PLAIN completed")
	}
	parts := strings.SplitN(string(token), "\x00", 3)
	if len(parts) != 3 {
		return nil, false, generic(mech, fmt.Sprintf("Invalid SASL/PLAIN response: expected 3 tokens, got %d", len(parts)))
	}
	authzid, user, pass := parts[0], parts[1], parts[2]
	if user == "" {
		return nil, false, generic(mech, "Authentication failed: username not specified")
	}
	if pass == "" {
		return nil, false, generic(mech, "Authentication failed: password not specified")
	}
	want, ok := p.users[user]
	// Compare even for an unknown user so timing says nothing of it.
	match := subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
	if !ok || !match {
		e := specific("Authentication failed: Invalid username or password")
		if !ok {
			e.Reason += " (unknown user " + user + ")"
		} else {
			e.Reason += " (wrong password for user " + user + ")"
		}
		return nil, false, e
	}
	if authzid != "" && authzid != user {
		return nil, false, specific("Authentication failed: Client requested an authorization id that is different from username")
	}
	p.user, p.done = user, true
	return []byte{}, true, nil
}

func (p *plainExchange) User() string { return p.user }

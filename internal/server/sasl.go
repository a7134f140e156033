package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SASL on a connection, as Kafka's SaslServerAuthenticator: until the
// client has authenticated, the read loop serves ApiVersions and one
// SaslHandshake (17); after a version 1 handshake the tokens come in
// SaslAuthenticate (36) requests, after a version 0 one as raw
// size-prefixed frames (KIP-43's legacy framing). Any other request closes
// the connection unanswered. An unsupported mechanism or a failed
// authentication is answered with its error, then the connection closes.
// Once authenticated the connection is served like any other, until its
// session (if it has a lifetime) ends: re-authentication is in reauth.go.
// A SaslHandshake that starts no re-authentication, and a SaslAuthenticate
// after authentication, reach the handler (ILLEGAL_SASL_STATE).

type authState uint8

const (
	authDone      authState = iota // no SASL on the listener, or authenticated
	authHandshake                  // awaiting ApiVersions or SaslHandshake
	authToken                      // after a v1 handshake: SaslAuthenticate
	authRawToken                   // after a v0 handshake: raw token frames
)

const (
	keySaslHandshake    = 17
	keySaslAuthenticate = 36
	keyApiVersions      = 18
)

// saslMaxReceive bounds a frame before authentication (Kafka's
// sasl.server.max.receive.size default), so an unauthenticated client
// cannot make the broker allocate socket.request.max.bytes.
const saslMaxReceive = 512 << 10

// errAuthClosed ends the read loop after an answered authentication
// failure (the failure was logged already).
var errAuthClosed = net.ErrClosed

// preAuth handles one request before authentication. It reports handled
// when it queued the answer itself; ApiVersions is left to the handler.
func (c *conn) preAuth(req *Request, body []byte, start time.Time) (handled bool, err error) {
	switch {
	case c.auth == authHandshake && req.Key == keyApiVersions:
		return false, nil
	case c.auth == authHandshake && req.Key == keySaslHandshake:
		return true, c.handshake(req, body, start)
	case c.auth == authToken && req.Key == keySaslAuthenticate:
		return true, c.authenticate(req, body, start)
	}
	return false, fmt.Errorf("unexpected %s request (key %d) on SASL listener %s before authentication: closing, as Kafka does",
		kmsg.NameForKey(req.Key), req.Key, c.info.Listener)
}

func (c *conn) handshake(req *Request, body []byte, start time.Time) error {
	if !c.s.h.Supported(req.Key, req.Version) {
		return fmt.Errorf("unsupported SaslHandshake version %d", req.Version)
	}
	if err := decodeBody(req, body); err != nil {
		return err
	}
	r := req.Body.(*kmsg.SASLHandshakeRequest)
	resp := kmsg.NewPtrSASLHandshakeResponse()
	resp.SupportedMechanisms = c.sasl.Mechanisms()
	ex, ok := c.sasl.Start(r.Mechanism)
	if !ok {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		c.authResult(r.Mechanism, fmt.Errorf("Unsupported SASL mechanism %s", r.Mechanism))
		return c.fail(req, &Response{Msg: resp, Close: true}, start)
	}
	if c.reauth && r.Mechanism != c.info.Mechanism {
		// Kafka answers the handshake and then drops the connection at
		// the first token, unanswered.
		c.reauthBad = fmt.Sprintf("SASL mechanism %s requested by the client for re-authentication, the session authenticated with %s",
			r.Mechanism, c.info.Mechanism)
	}
	c.ex = ex
	if !c.reauth {
		c.info.Mechanism = r.Mechanism
	}
	if req.Version == 0 {
		c.auth = authRawToken
	} else {
		c.auth = authToken
	}
	return c.enqueue(pending{req: req, reply: Ready(&Response{Msg: resp}), start: start})
}

func (c *conn) authenticate(req *Request, body []byte, start time.Time) error {
	if !c.s.h.Supported(req.Key, req.Version) {
		return fmt.Errorf("unsupported SaslAuthenticate version %d", req.Version)
	}
	if err := decodeBody(req, body); err != nil {
		return err
	}
	r := req.Body.(*kmsg.SASLAuthenticateRequest)
	resp := kmsg.NewPtrSASLAuthenticateResponse()
	if c.reauthBad != "" {
		c.authResult(c.info.Mechanism, errors.New(c.reauthBad))
		return errAuthClosed
	}
	reply, done, err := c.ex.Step(r.SASLAuthBytes)
	if err == nil && done {
		resp.SessionLifetimeMillis, err = c.succeed()
	}
	if err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := c.failureText(err)
		resp.ErrorMessage = &msg
		c.authResult(c.info.Mechanism, err)
		return c.fail(req, &Response{Msg: resp, Close: true}, start)
	}
	resp.SASLAuthBytes = reply
	return c.enqueue(pending{req: req, reply: Ready(&Response{Msg: resp}), start: start})
}

// rawToken handles one token frame after a version 0 handshake. A failure
// closes the connection unanswered, as Kafka does (there is no error
// field in this framing).
func (c *conn) rawToken(frame []byte, start time.Time) error {
	if c.reauthBad != "" {
		c.authResult(c.info.Mechanism, errors.New(c.reauthBad))
		return errAuthClosed
	}
	reply, done, err := c.ex.Step(frame)
	if err == nil && done {
		_, err = c.succeed()
	}
	if err != nil {
		c.authResult(c.info.Mechanism, err)
		return errAuthClosed
	}
	if reply == nil {
		reply = []byte{}
	}
	req := &Request{Key: -1, Remote: c.info.Remote, Conn: c.info}
	return c.enqueue(pending{req: req, reply: Ready(&Response{Raw: reply}), start: start})
}

// succeed records the authenticated user and starts the session (its
// lifetime in ms, 0 for none: reauth.go); the connection is served as any
// other from the next request on. A re-authentication must keep the user.
func (c *conn) succeed() (int64, error) {
	user := c.ex.User()
	if c.reauth && user != c.info.User {
		return 0, fmt.Errorf("Cannot change principals during re-authentication from User:%s to User:%s", c.info.User, user)
	}
	lifetime := c.startSession(time.Now())
	if !c.reauth {
		c.info.User = user
	}
	c.auth, c.ex, c.reauth = authDone, nil, false
	c.authResult(c.info.Mechanism, nil)
	return lifetime, nil
}

func (c *conn) authResult(mechanism string, err error) {
	if f := c.s.cfg.OnAuth; f != nil {
		f(c.info, mechanism, err)
	} else if err != nil {
		c.s.log.Info("failed authentication", "remote", c.info.Remote.String(), "listener", c.info.Listener,
			"mechanism", mechanism, "reason", err.Error())
	}
}

// fail queues an answer that closes the connection and waits until the
// write loop has written it and closed the connection.
func (c *conn) fail(req *Request, resp *Response, start time.Time) error {
	if err := c.enqueue(pending{req: req, reply: Ready(resp), start: start}); err != nil {
		return err
	}
	<-c.info.Done
	return errAuthClosed
}

// enqueue hands a request to the write loop. inflight counts it until
// the write loop is done with it (idle.go).
func (c *conn) enqueue(p pending) error {
	c.inflight.Add(1)
	select {
	case c.replies <- p:
		return nil
	case <-c.done:
		c.inflight.Add(-1)
		c.s.pool.release(p.held)
		return net.ErrClosed
	}
}

// writeRaw writes b as one size-prefixed frame.
func writeRaw(nc net.Conn, b []byte) error {
	buf := make([]byte, 4, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	_, err := nc.Write(append(buf, b...))
	if err != nil {
		return errors.Join(errors.New("write SASL token"), err)
	}
	return nil
}

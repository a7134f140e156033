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
// Once authenticated the connection is served like any other; SaslHandshake
// and SaslAuthenticate then reach the handler (ILLEGAL_SASL_STATE: no
// re-authentication).

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
	c.ex, c.info.Mechanism = ex, r.Mechanism
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
	reply, done, err := c.ex.Step(r.SASLAuthBytes)
	if err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := err.Error()
		resp.ErrorMessage = &msg
		c.authResult(c.info.Mechanism, err)
		return c.fail(req, &Response{Msg: resp, Close: true}, start)
	}
	resp.SASLAuthBytes = reply
	// SessionLifetimeMillis stays 0: connections.max.reauth.ms is 0.
	if done {
		c.succeed()
	}
	return c.enqueue(pending{req: req, reply: Ready(&Response{Msg: resp}), start: start})
}

// rawToken handles one token frame after a version 0 handshake. A failure
// closes the connection unanswered, as Kafka does (there is no error
// field in this framing).
func (c *conn) rawToken(frame []byte, start time.Time) error {
	reply, done, err := c.ex.Step(frame)
	if err != nil {
		c.authResult(c.info.Mechanism, err)
		return errAuthClosed
	}
	if reply == nil {
		reply = []byte{}
	}
	if done {
		c.succeed()
	}
	req := &Request{Key: -1, Remote: c.info.Remote, Conn: c.info}
	return c.enqueue(pending{req: req, reply: Ready(&Response{Raw: reply}), start: start})
}

// succeed records the authenticated user; the connection is served as
// any other from the next request on.
func (c *conn) succeed() {
	c.info.User = c.ex.User()
	c.auth, c.ex = authDone, nil
	c.authResult(c.info.Mechanism, nil)
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

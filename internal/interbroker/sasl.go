package interbroker

import (
	"context"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
)

// authenticate logs the connection in with the client's SASL mechanism
// (Config.SASL) right after ApiVersions, as a Kafka client does on a
// SASL_PLAINTEXT or SASL_SSL listener: SaslHandshake v1 names the
// mechanism, then SaslAuthenticate carries the mechanism's messages until
// its session is done. No request of the caller's is written before.
func (cn *conn) authenticate(ctx context.Context, mech sasl.Mechanism) error {
	fail := func(err error) error { return connError(cn.node, cn.addr, fmt.Errorf("SASL %s: %w", mech.Name(), err)) }
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, mech.Name()
	resp, err := cn.do(ctx, hs)
	if err != nil {
		return err
	}
	if r := resp.(*kmsg.SASLHandshakeResponse); r.ErrorCode != 0 {
		return fail(fmt.Errorf("%w (the listener enables %v)", kerr.ErrorForCode(r.ErrorCode), r.SupportedMechanisms))
	}
	host, _, err := net.SplitHostPort(cn.addr)
	if err != nil {
		host = cn.addr
	}
	sess, msg, err := mech.Authenticate(ctx, host)
	if err != nil {
		return fail(err)
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version, req.SASLAuthBytes = 1, msg
		resp, err := cn.do(ctx, req)
		if err != nil {
			return err
		}
		r := resp.(*kmsg.SASLAuthenticateResponse)
		if r.ErrorCode != 0 {
			why := kerr.ErrorForCode(r.ErrorCode).Error()
			if r.ErrorMessage != nil {
				why += ": " + *r.ErrorMessage
			}
			return fail(fmt.Errorf("%s", why))
		}
		done, next, err := sess.Challenge(r.SASLAuthBytes)
		if err != nil {
			return fail(err)
		}
		if done {
			return nil
		}
		msg = next
	}
}

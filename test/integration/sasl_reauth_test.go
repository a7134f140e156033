package integration

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// connCounter counts a client's broker connections, disconnections and
// SaslHandshake requests.
type connCounter struct{ connects, disconnects, handshakes atomic.Int32 }

func (c *connCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 17 && err == nil {
		c.handshakes.Add(1)
	}
}

func (c *connCounter) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		c.connects.Add(1)
	}
}

func (c *connCounter) OnBrokerDisconnect(kgo.BrokerMetadata, net.Conn) { c.disconnects.Add(1) }

// TestSASLReauthClients (KIP-368): with connections.max.reauth.ms set, a
// franz-go client told the session lifetime re-authenticates on its
// connections before they expire, with PLAIN, SCRAM and OAUTHBEARER, and
// keeps producing across several lifetimes without the broker closing a
// connection.
func TestSASLReauthClients(t *testing.T) {
	t.Parallel()
	tb := startSASLBroker(t, withProp("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"),
		withProp("connections.max.reauth.ms", "2500"))
	adm := newAdmin(t, tb.Addr())
	for _, u := range []kadm.UpsertSCRAM{
		{User: "carol", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "carol-256"},
		{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "carol-512"},
	} {
		res, err := adm.AlterUserSCRAMs(testCtx(t, 15*time.Second), nil, []kadm.UpsertSCRAM{u})
		if err != nil || res.Error() != nil {
			t.Fatalf("AlterUserSCRAMs: %v %v", err, res.Error())
		}
	}
	for _, m := range []sasl.Mechanism{
		plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism(),
		scram.Auth{User: "carol", Pass: "carol-256"}.AsSha256Mechanism(),
		scram.Auth{User: "carol", Pass: "carol-512"}.AsSha512Mechanism(),
		unsecuredJWS("oauth-user", time.Now().Add(time.Hour)).AsMechanism(),
	} {
		t.Run(m.Name(), func(t *testing.T) {
			t.Parallel()
			topic := topicName(t, strings.ToLower(m.Name()))
			createTopic(t, adm, topic, 1, nil)
			var cc connCounter
			cl := saslClient(t, tb, m, kgo.WithHooks(&cc), kgo.DefaultProduceTopic(topic))
			produceSync(t, cl, &kgo.Record{Value: []byte("first")})
			connected := cc.connects.Load()
			// Three lifetimes of produces; each waits for its answer.
			until := time.Now().Add(3 * 2500 * time.Millisecond)
			n := 1
			for time.Now().Before(until) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("more")}).FirstErr()
				cancel()
				if err != nil {
					t.Fatalf("produce %d: %v", n, err)
				}
				n++
			}
			if d := cc.disconnects.Load(); d != 0 {
				t.Errorf("%d disconnects while re-authenticating", d)
			}
			if c := cc.connects.Load(); c != connected {
				t.Errorf("%d connections after the first produce, %d at the end: the client reconnected instead of re-authenticating", connected, c)
			}
			// Every 1.5 to 2.5 s on the producing connection.
			if h := cc.handshakes.Load(); h < cc.connects.Load()+2 {
				t.Errorf("%d handshakes on %d connections: no re-authentication", h, cc.connects.Load())
			}
			if off, _, _ := listOffset(t, newClient(t, tb.Addr()), topic, 0, tsLatest); off != int64(n) {
				t.Errorf("%d records acknowledged, end offset %d", n, off)
			}
		})
	}
}

// saslRaw drives SASL by hand on a raw connection.
type saslRaw struct {
	t    *testing.T
	rc   *rawConn
	corr int32
}

func (s *saslRaw) next() int32 { s.corr++; return s.corr }

func (s *saslRaw) handshake(mech string) int16 {
	r := kmsg.NewPtrSASLHandshakeRequest()
	r.SetVersion(1)
	r.Mechanism = mech
	return s.rc.roundTrip(s.next(), r).(*kmsg.SASLHandshakeResponse).ErrorCode
}

func (s *saslRaw) authenticate(version int16, token string) *kmsg.SASLAuthenticateResponse {
	r := kmsg.NewPtrSASLAuthenticateRequest()
	r.SetVersion(version)
	r.SASLAuthBytes = []byte(token)
	return s.rc.roundTrip(s.next(), r).(*kmsg.SASLAuthenticateResponse)
}

// plainLogin authenticates user with PLAIN at SaslAuthenticate version v.
func (s *saslRaw) plainLogin(user, pass string, v int16) *kmsg.SASLAuthenticateResponse {
	s.t.Helper()
	if code := s.handshake("PLAIN"); code != 0 {
		s.t.Fatalf("handshake: %v", kerr.ErrorForCode(code))
	}
	return s.authenticate(v, "\x00"+user+"\x00"+pass)
}

// oauthToken is the OAUTHBEARER client first message for an unsecured token.
func oauthToken(sub string, exp time.Time) string {
	return "n,,\x01auth=Bearer " + unsecuredJWS(sub, exp).Token + "\x01\x01"
}

// TestSASLReauthProtocol (KIP-368) by hand: the session lifetime in
// SaslAuthenticate v1+ (connections.max.reauth.ms, its per listener and
// mechanism override, an OAUTHBEARER token's expiry); a re-authentication
// on the same connection, at most one a second (a handshake sooner is
// ILLEGAL_SASL_STATE), that must keep the user and the mechanism; and the
// connection closed at the first request after the session expired.
func TestSASLReauthProtocol(t *testing.T) {
	t.Parallel()
	tb := startSASLBroker(t, withProp("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256,OAUTHBEARER"),
		withProp("connections.max.reauth.ms", "60000"),
		withProp("listener.name.sasl_plaintext.plain.connections.max.reauth.ms", "1500"))
	addr := tb.ListenerAddr("SASL_PLAINTEXT")
	dial := func(t *testing.T) *saslRaw { return &saslRaw{t: t, rc: dialRaw(t, addr)} }

	t.Run("lifetime", func(t *testing.T) {
		s := dial(t)
		if r := s.plainLogin("alice", "alice-pw", 2); r.ErrorCode != 0 || r.SessionLifetimeMillis != 1500 {
			t.Errorf("PLAIN (listener override 1500): %v lifetime %d", kerr.ErrorForCode(r.ErrorCode), r.SessionLifetimeMillis)
		}
		s = dial(t)
		if code := s.handshake("OAUTHBEARER"); code != 0 {
			t.Fatal(kerr.ErrorForCode(code))
		}
		r := s.authenticate(1, oauthToken("oauth-user", time.Now().Add(20*time.Second)))
		if r.ErrorCode != 0 || r.SessionLifetimeMillis <= 10000 || r.SessionLifetimeMillis > 20000 {
			t.Errorf("OAUTHBEARER token expiring in 20 s (broker 60000): %v lifetime %d", kerr.ErrorForCode(r.ErrorCode), r.SessionLifetimeMillis)
		}
	})

	t.Run("reauthenticate", func(t *testing.T) {
		s := dial(t)
		s.plainLogin("alice", "alice-pw", 2)
		reauth := func() {
			r := s.authenticate(2, "\x00alice\x00alice-pw")
			if r.ErrorCode != 0 || r.SessionLifetimeMillis != 1500 {
				t.Fatalf("re-authentication: %v lifetime %d", kerr.ErrorForCode(r.ErrorCode), r.SessionLifetimeMillis)
			}
		}
		// The first re-authentication may come at once.
		if code := s.handshake("PLAIN"); code != 0 {
			t.Fatalf("first re-authentication handshake: %v", kerr.ErrorForCode(code))
		}
		reauth()
		// Another one within a second of it is the handler's
		// ILLEGAL_SASL_STATE, until the second has passed.
		began := time.Now()
		if code := s.handshake("PLAIN"); code != kerr.IllegalSaslState.Code && time.Since(began) < time.Second {
			t.Errorf("second re-authentication within a second: %v", kerr.ErrorForCode(code))
		}
		waitFor(t, 10*time.Second, "a re-authentication handshake accepted", func() error {
			return kerr.ErrorForCode(s.handshake("PLAIN"))
		})
		reauth()
		md := kmsg.NewPtrMetadataRequest()
		md.SetVersion(9)
		s.rc.roundTrip(s.next(), md)
	})

	t.Run("another user", func(t *testing.T) {
		s := dial(t)
		s.plainLogin("alice", "alice-pw", 2)
		waitFor(t, 10*time.Second, "a re-authentication handshake accepted", func() error {
			return kerr.ErrorForCode(s.handshake("PLAIN"))
		})
		r := s.authenticate(2, "\x00bob\x00bob-pw")
		if r.ErrorCode != kerr.SaslAuthenticationFailed.Code || r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, "Cannot change principals") {
			t.Errorf("re-authentication as bob: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
		}
		s.rc.expectClosed("after a re-authentication as another user")
	})

	t.Run("another mechanism", func(t *testing.T) {
		s := dial(t)
		s.plainLogin("alice", "alice-pw", 2)
		waitFor(t, 10*time.Second, "a re-authentication handshake accepted", func() error {
			return kerr.ErrorForCode(s.handshake("SCRAM-SHA-256"))
		})
		r := kmsg.NewPtrSASLAuthenticateRequest()
		r.SetVersion(2)
		r.SASLAuthBytes = []byte("n,,n=alice,r=abc")
		s.rc.send(s.next(), r)
		s.rc.expectClosed("re-authentication with another mechanism")
	})

	t.Run("expired", func(t *testing.T) {
		s := dial(t)
		authed := time.Now()
		s.plainLogin("alice", "alice-pw", 2)
		// Requests are answered until the session's 1.5 s are over; the
		// first one after closes the connection.
		var closedAt time.Time
		waitFor(t, 10*time.Second, "the connection closed", func() error {
			s.rc.send(s.next(), apiVersionsReq())
			if _, err := s.rc.readFrame(5 * time.Second); err != nil {
				closedAt = time.Now()
				return nil
			}
			return errString("still answered")
		})
		if d := closedAt.Sub(authed); d < 1500*time.Millisecond {
			t.Errorf("closed %v after authenticating, before the 1.5 s session ended", d)
		}
	})

	t.Run("v0 has no lifetime but expires", func(t *testing.T) {
		s := dial(t)
		if r := s.plainLogin("alice", "alice-pw", 0); r.ErrorCode != 0 {
			t.Fatal(kerr.ErrorForCode(r.ErrorCode))
		}
		waitFor(t, 10*time.Second, "the connection closed", func() error {
			s.rc.send(s.next(), apiVersionsReq())
			if _, err := s.rc.readFrame(5 * time.Second); err != nil {
				return nil
			}
			return errString("still answered")
		})
	})
}

type errString string

func (e errString) Error() string { return string(e) }

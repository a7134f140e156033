package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
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

// plainJAAS defines the PLAIN users alice and bob (the username/password
// pair is the broker's own client login, not a user).
const plainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
	`username="admin" password="admin-pw" user_alice="alice-pw" user_bob="bob-pw";`

// startSASLBroker starts a broker with a PLAINTEXT and a SASL_PLAINTEXT
// listener, PLAIN (users alice and bob) and both SCRAM mechanisms enabled.
func startSASLBroker(t *testing.T, opts ...brokerOpt) *testBroker {
	t.Helper()
	base := []brokerOpt{
		withProp("listeners", "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"),
		withProp("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"),
		withProp("listener.name.sasl_plaintext.plain.sasl.jaas.config", plainJAAS),
	}
	return startBroker(t, append(base, opts...)...)
}

// saslClient is a franz-go client on the SASL listener.
func saslClient(t *testing.T, tb *testBroker, m sasl.Mechanism, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newClient(t, tb.ListenerAddr("SASL_PLAINTEXT"), append([]kgo.Opt{kgo.SASL(m)}, opts...)...)
}

// saslProduceConsume produces n records to a new topic through cl and reads
// them back through the same client.
func saslProduceConsume(t *testing.T, tb *testBroker, cl *kgo.Client, topic string, n int) {
	t.Helper()
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))})
	}
	produceSync(t, cl, rs...)
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}})
	ctx := testCtx(t, 20*time.Second)
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) != strconv.Itoa(got) {
				t.Fatalf("record %d is %q", got, r.Value)
			}
			got++
		})
	}
}

// ping connects with m and returns the error of the first request.
func ping(t *testing.T, addr string, m sasl.Mechanism) error {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(m), kgo.DialTimeout(5*time.Second), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, err = kmsg.NewPtrApiVersionsRequest().RequestWith(testCtx(t, 15*time.Second), cl)
	if err == nil {
		_, err = kmsg.NewPtrMetadataRequest().RequestWith(testCtx(t, 15*time.Second), cl)
	}
	return err
}

// TestSASLPlainProduceConsume: a franz-go client authenticates with PLAIN
// on the SASL listener, produces and consumes; every answer naming this
// broker (Metadata, FindCoordinator, DescribeCluster) gives the endpoint of
// the listener the request came in on.
func TestSASLPlainProduceConsume(t *testing.T) {
	tb := startSASLBroker(t)
	saslAddr, plainAddr := tb.ListenerAddr("SASL_PLAINTEXT"), tb.Addr()
	if saslAddr == "" || saslAddr == plainAddr {
		t.Fatalf("listeners: PLAINTEXT %s SASL_PLAINTEXT %s", plainAddr, saslAddr)
	}
	cl := saslClient(t, tb, plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism())
	saslProduceConsume(t, tb, cl, topicName(t, ""), 50)

	ctx := testCtx(t, 15*time.Second)
	for _, c := range []struct {
		cl   *kgo.Client
		want string
	}{{cl, saslAddr}, {newClient(t, plainAddr), plainAddr}} {
		md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, c.cl)
		if err != nil {
			t.Fatal(err)
		}
		if len(md.Brokers) != 1 || fmt.Sprintf("%s:%d", md.Brokers[0].Host, md.Brokers[0].Port) != c.want {
			t.Errorf("Metadata brokers %+v, want %s", md.Brokers, c.want)
		}
		dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, c.cl)
		if err != nil {
			t.Fatal(err)
		}
		if len(dc.Brokers) != 1 || fmt.Sprintf("%s:%d", dc.Brokers[0].Host, dc.Brokers[0].Port) != c.want {
			t.Errorf("DescribeCluster brokers %+v, want %s", dc.Brokers, c.want)
		}
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKeys = []string{"g"}
		fr, err := fc.RequestWith(ctx, c.cl)
		if err != nil {
			t.Fatal(err)
		}
		if co := fr.Coordinators[0]; co.ErrorCode == 0 && fmt.Sprintf("%s:%d", co.Host, co.Port) != c.want {
			t.Errorf("FindCoordinator %+v, want %s", co, c.want)
		}
	}
	// After authentication, another handshake is ILLEGAL_SASL_STATE.
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = "PLAIN"
	if r, err := hs.RequestWith(ctx, cl); err != nil || r.ErrorCode != kerr.IllegalSaslState.Code {
		t.Errorf("handshake after authentication: %v code %d", err, r.ErrorCode)
	}
}

// TestSASLScramProduceConsume: credentials made with AlterUserScramCredentials
// over the PLAINTEXT listener let SCRAM-SHA-256 and SCRAM-SHA-512 clients
// produce and consume; a credential of one mechanism does not log in with
// the other, and a changed password takes effect at once.
func TestSASLScramProduceConsume(t *testing.T) {
	tb := startSASLBroker(t)
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 30*time.Second)
	for _, u := range []kadm.UpsertSCRAM{
		{User: "carol", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "carol-256"},
		{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "carol-512"},
	} {
		res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{u})
		if err != nil || res.Error() != nil {
			t.Fatalf("AlterUserSCRAMs: %v %v", err, res.Error())
		}
	}
	for _, m := range []sasl.Mechanism{
		scram.Auth{User: "carol", Pass: "carol-256"}.AsSha256Mechanism(),
		scram.Auth{User: "carol", Pass: "carol-512"}.AsSha512Mechanism(),
	} {
		t.Run(m.Name(), func(t *testing.T) {
			saslProduceConsume(t, tb, saslClient(t, tb, m), topicName(t, ""), 20)
		})
	}
	saslAddr := tb.ListenerAddr("SASL_PLAINTEXT")
	if err := ping(t, saslAddr, scram.Auth{User: "carol", Pass: "carol-512"}.AsSha256Mechanism()); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("SHA-512 password with SCRAM-SHA-256: %v", err)
	}
	if _, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "carol", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "new"}}); err != nil {
		t.Fatal(err)
	}
	if err := ping(t, saslAddr, scram.Auth{User: "carol", Pass: "carol-256"}.AsSha256Mechanism()); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("old password after change: %v", err)
	}
	if err := ping(t, saslAddr, scram.Auth{User: "carol", Pass: "new"}.AsSha256Mechanism()); err != nil {
		t.Errorf("new password: %v", err)
	}
}

// TestSASLFailures: wrong passwords and unknown users fail with
// SASL_AUTHENTICATION_FAILED, a mechanism not enabled on the listener with
// UNSUPPORTED_SASL_MECHANISM; each failure is one log line with the client
// address and mechanism (no password) and counts in the metrics.
func TestSASLFailures(t *testing.T) {
	tb := startSASLBroker(t,
		withProp("listener.name.sasl_plaintext.sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256"),
		withProp("metrics.listener", "http://127.0.0.1:0"))
	if _, err := newAdmin(t, tb.Addr()).AlterUserSCRAMs(testCtx(t, 15*time.Second), nil,
		[]kadm.UpsertSCRAM{{User: "dave", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "dave-pw"}}); err != nil {
		t.Fatal(err)
	}
	url := "http://" + tb.b.MetricsAddr() + "/metrics"
	counts := func() (ok, failed float64) {
		body, _ := scrape(t, url)
		ok, _ = metricSum(body, "kafka_server_socket_server_metrics_successful_authentication_total", `listener="SASL_PLAINTEXT"`)
		failed, _ = metricSum(body, "kafka_server_socket_server_metrics_failed_authentication_total", `listener="SASL_PLAINTEXT"`)
		return
	}
	ok0, failed0 := counts()
	addr := tb.ListenerAddr("SASL_PLAINTEXT")
	for _, c := range []struct {
		name string
		m    sasl.Mechanism
		want error
	}{
		{"plain wrong password", plain.Auth{User: "alice", Pass: "wrong-secret-1"}.AsMechanism(), kerr.SaslAuthenticationFailed},
		{"plain unknown user", plain.Auth{User: "mallory", Pass: "wrong-secret-2"}.AsMechanism(), kerr.SaslAuthenticationFailed},
		{"scram wrong password", scram.Auth{User: "dave", Pass: "wrong-secret-3"}.AsSha256Mechanism(), kerr.SaslAuthenticationFailed},
		{"scram unknown user", scram.Auth{User: "mallory", Pass: "wrong-secret-4"}.AsSha256Mechanism(), kerr.SaslAuthenticationFailed},
		{"mechanism not enabled here", scram.Auth{User: "dave", Pass: "dave-pw"}.AsSha512Mechanism(), kerr.UnsupportedSaslMechanism},
		{"plain ok", plain.Auth{User: "bob", Pass: "bob-pw"}.AsMechanism(), nil},
		{"scram ok", scram.Auth{User: "dave", Pass: "dave-pw"}.AsSha256Mechanism(), nil},
	} {
		err := ping(t, addr, c.m)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	var ok1, failed1 float64
	waitFor(t, 10*time.Second, "authentication counters", func() error {
		ok1, failed1 = counts()
		if ok1-ok0 != 2 || failed1-failed0 != 5 {
			return fmt.Errorf("successful +%v failed +%v, want +2 and +5", ok1-ok0, failed1-failed0)
		}
		return nil
	})
	logs := tb.logs.tail(1 << 20)
	if n := strings.Count(logs, "failed authentication"); n != 5 {
		t.Errorf("%d failed-authentication log lines, want 5:\n%s", n, logs)
	}
	for _, want := range []string{"mechanism=PLAIN", "mechanism=SCRAM-SHA-256", "mechanism=SCRAM-SHA-512", "remote=127.0.0.1:"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log has no %q", want)
		}
	}
	if strings.Contains(logs, "wrong-secret") {
		t.Error("a password reached the log")
	}
}

// TestSASLStateMachine speaks the protocol by hand: requests before
// authentication close the connection, the failure answers carry Kafka's
// codes and messages and are followed by a close, and the legacy framing
// after a version 0 handshake (raw token frames) works.
func TestSASLStateMachine(t *testing.T) {
	tb := startSASLBroker(t)
	addr := tb.ListenerAddr("SASL_PLAINTEXT")
	handshake := func(v int16, mech string) *kmsg.SASLHandshakeRequest {
		r := kmsg.NewPtrSASLHandshakeRequest()
		r.SetVersion(v)
		r.Mechanism = mech
		return r
	}
	authenticate := func(token string) *kmsg.SASLAuthenticateRequest {
		r := kmsg.NewPtrSASLAuthenticateRequest()
		r.SetVersion(2)
		r.SASLAuthBytes = []byte(token)
		return r
	}
	metadataReq := func() *kmsg.MetadataRequest {
		r := kmsg.NewPtrMetadataRequest()
		r.SetVersion(9)
		return r
	}

	t.Run("metadata before handshake closes", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.send(1, metadataReq())
		rc.expectClosed("Metadata before authentication")
	})
	t.Run("metadata after ApiVersions closes", func(t *testing.T) {
		rc := dialRaw(t, addr)
		if r := rc.roundTrip(1, apiVersionsReq()).(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 {
			t.Fatalf("ApiVersions: %d", r.ErrorCode)
		}
		rc.send(2, metadataReq())
		rc.expectClosed("Metadata after ApiVersions")
	})
	t.Run("authenticate before handshake closes", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.send(1, authenticate("\x00alice\x00alice-pw"))
		rc.expectClosed("SaslAuthenticate before SaslHandshake")
	})
	t.Run("metadata between handshake and authenticate closes", func(t *testing.T) {
		rc := dialRaw(t, addr)
		if r := rc.roundTrip(1, handshake(1, "PLAIN")).(*kmsg.SASLHandshakeResponse); r.ErrorCode != 0 {
			t.Fatalf("handshake: %d", r.ErrorCode)
		}
		rc.send(2, metadataReq())
		rc.expectClosed("Metadata before SaslAuthenticate")
	})
	t.Run("oversized frame before authentication closes", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.write(binary.BigEndian.AppendUint32(nil, 1<<20)) // 1 MiB > sasl.server.max.receive.size
		rc.expectClosed("1 MiB frame before authentication")
	})
	t.Run("unsupported mechanism", func(t *testing.T) {
		rc := dialRaw(t, addr)
		r := rc.roundTrip(1, handshake(1, "GSSAPI")).(*kmsg.SASLHandshakeResponse)
		if r.ErrorCode != kerr.UnsupportedSaslMechanism.Code || strings.Join(r.SupportedMechanisms, ",") != "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" {
			t.Errorf("handshake GSSAPI: code %d mechanisms %v", r.ErrorCode, r.SupportedMechanisms)
		}
		rc.expectClosed("after UNSUPPORTED_SASL_MECHANISM")
	})
	t.Run("bad password answered then closed", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.roundTrip(1, handshake(1, "PLAIN"))
		r := rc.roundTrip(2, authenticate("\x00alice\x00nope")).(*kmsg.SASLAuthenticateResponse)
		if r.ErrorCode != kerr.SaslAuthenticationFailed.Code || r.ErrorMessage == nil || *r.ErrorMessage != "Authentication failed: Invalid username or password" {
			t.Errorf("bad password: code %d message %v", r.ErrorCode, r.ErrorMessage)
		}
		rc.expectClosed("after SASL_AUTHENTICATION_FAILED")
	})
	t.Run("v1 plain then requests", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.roundTrip(1, apiVersionsReq())
		rc.roundTrip(2, handshake(1, "PLAIN"))
		r := rc.roundTrip(3, authenticate("\x00alice\x00alice-pw")).(*kmsg.SASLAuthenticateResponse)
		if r.ErrorCode != 0 || r.SessionLifetimeMillis != 0 {
			t.Fatalf("authenticate: code %d lifetime %d", r.ErrorCode, r.SessionLifetimeMillis)
		}
		if md := rc.roundTrip(4, metadataReq()).(*kmsg.MetadataResponse); len(md.Brokers) != 1 {
			t.Errorf("Metadata after authentication: %+v", md.Brokers)
		}
		again := rc.roundTrip(5, authenticate("x")).(*kmsg.SASLAuthenticateResponse)
		if again.ErrorCode != kerr.IllegalSaslState.Code {
			t.Errorf("SaslAuthenticate after authentication: code %d", again.ErrorCode)
		}
	})
	t.Run("v0 handshake with raw tokens", func(t *testing.T) {
		rc := dialRaw(t, addr)
		if r := rc.roundTrip(1, handshake(0, "PLAIN")).(*kmsg.SASLHandshakeResponse); r.ErrorCode != 0 {
			t.Fatalf("handshake v0: %d", r.ErrorCode)
		}
		tok := []byte("\x00alice\x00alice-pw")
		rc.write(binary.BigEndian.AppendUint32(nil, uint32(len(tok))))
		rc.write(tok)
		// PLAIN's (empty) server token comes back as a zero-size frame.
		rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var size [4]byte
		if _, err := io.ReadFull(rc.c, size[:]); err != nil || binary.BigEndian.Uint32(size[:]) != 0 {
			t.Fatalf("PLAIN reply frame size %x %v, want an empty frame", size, err)
		}
		if md := rc.roundTrip(2, metadataReq()).(*kmsg.MetadataResponse); len(md.Brokers) != 1 {
			t.Errorf("Metadata after v0 authentication: %+v", md.Brokers)
		}
	})
	t.Run("v0 handshake bad token closes", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.roundTrip(1, handshake(0, "PLAIN"))
		tok := []byte("\x00alice\x00wrong")
		rc.write(binary.BigEndian.AppendUint32(nil, uint32(len(tok))))
		rc.write(tok)
		rc.expectClosed("bad raw PLAIN token")
	})
	// The PLAINTEXT listener is unchanged: no authentication needed.
	checkServing(t, tb.Addr())
	rc := dialRaw(t, tb.Addr())
	if md := rc.roundTrip(1, metadataReq()).(*kmsg.MetadataResponse); len(md.Brokers) != 1 {
		t.Errorf("Metadata on PLAINTEXT: %+v", md.Brokers)
	}
}

// TestSASLACLs: with the ACL authorizer, the principal of a SASL
// connection is User:<name>: ACLs for User:alice let alice produce and
// consume and refuse bob.
func TestSASLACLs(t *testing.T) {
	tb := startSASLBroker(t, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"))
	adm := newAdmin(t, tb.Addr()) // PLAINTEXT: User:ANONYMOUS, a super user here
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	ctx := testCtx(t, 30*time.Second)
	res, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics(topic).Operations(kadm.OpWrite, kadm.OpRead))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}

	alice := saslClient(t, tb, plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	produceSync(t, alice, &kgo.Record{Topic: topic, Value: []byte("from alice")})
	fs := alice.PollFetches(ctx)
	if errs := fs.Errors(); len(errs) > 0 || fs.NumRecords() != 1 {
		t.Fatalf("alice consumes: %d records, errors %v", fs.NumRecords(), errs)
	}

	bob := saslClient(t, tb, plain.Auth{User: "bob", Pass: "bob-pw"}.AsMechanism(), kgo.RecordRetries(1))
	err = bob.ProduceSync(testCtx(t, 15*time.Second), &kgo.Record{Topic: topic, Value: []byte("from bob")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("bob produces: %v, want an authorization failure", err)
	}
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	md.Topics = append(md.Topics, mt)
	resp, err := md.RequestWith(ctx, bob)
	if err != nil || resp.Topics[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("bob's metadata of %s: %v %+v", topic, err, resp)
	}
}

// TestSASLKcatScram runs librdkafka (kcat) against the SASL listener with
// SCRAM-SHA-256: produce, then consume the records back.
func TestSASLKcatScram(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat not installed")
	}
	tb := startSASLBroker(t)
	adm := newAdmin(t, tb.Addr())
	if _, err := adm.AlterUserSCRAMs(testCtx(t, 15*time.Second), nil,
		[]kadm.UpsertSCRAM{{User: "erin", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "erin-pw"}}); err != nil {
		t.Fatal(err)
	}
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	args := func(pass string, more ...string) []string {
		return append([]string{"-b", tb.ListenerAddr("SASL_PLAINTEXT"), "-X", "security.protocol=SASL_PLAINTEXT",
			"-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=erin", "-X", "sasl.password=" + pass, "-t", topic}, more...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prod := exec.CommandContext(ctx, "kcat", args("erin-pw", "-P")...)
	prod.Stdin = strings.NewReader("one\ntwo\nthree\n")
	if out, err := prod.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, "kcat", args("erin-pw", "-C", "-o", "beginning", "-e", "-q")...).CombinedOutput()
	if err != nil || string(out) != "one\ntwo\nthree\n" {
		t.Fatalf("kcat -C: %v\n%q", err, out)
	}
	// A wrong password fails (kcat exits non-zero with the broker's message).
	out, err = exec.CommandContext(ctx, "kcat", args("wrong", "-L", "-m", "10")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "uthentication") {
		t.Fatalf("kcat with a wrong password: %v\n%s", err, out)
	}
}

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// startTLSBroker starts a broker with a PLAINTEXT listener (first, so it
// carries inter-broker traffic), an SSL listener whose keystore is a PEM
// file and whose truststore is inline, and a SASL_SSL listener (PLAIN)
// with an inline keystore and a truststore file, all signed by ca.
func startTLSBroker(t *testing.T, ca *testCA, opts ...brokerOpt) *testBroker {
	t.Helper()
	saslCert, saslKey := ca.issue(t, pkix.Name{CommonName: "broker"}, true)
	trust := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(trust, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	base := []brokerOpt{
		withProp("listeners", "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0"),
		withProp("listener.name.ssl.ssl.keystore.type", "PEM"),
		withProp("listener.name.ssl.ssl.keystore.location", ca.keystoreFile(t)),
		withProp("listener.name.ssl.ssl.truststore.certificates", string(ca.pem)),
		withProp("listener.name.sasl_ssl.ssl.keystore.certificate.chain", string(saslCert)),
		withProp("listener.name.sasl_ssl.ssl.keystore.key", string(saslKey)),
		withProp("listener.name.sasl_ssl.ssl.truststore.location", trust),
		withProp("listener.name.sasl_ssl.sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512"),
		withProp("listener.name.sasl_ssl.plain.sasl.jaas.config", plainJAAS),
	}
	return startBroker(t, append(base, opts...)...)
}

// tlsPing connects over TLS and returns the error of ApiVersions and
// Metadata.
func tlsPing(t *testing.T, addr string, cfg *tls.Config, opts ...kgo.Opt) error {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DialTLSConfig(cfg), kgo.DialTimeout(5 * time.Second), kgo.RequestRetries(0)}
	cl, err := kgo.NewClient(append(base, opts...)...)
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

// TestTLSProduceConsume: franz-go produces and consumes over the SSL
// listener (fetched log bytes go through TLS, not sendfile) and with PLAIN
// and SCRAM-SHA-512 over SASL_SSL; a wrong password on SASL_SSL is refused.
func TestTLSProduceConsume(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca)
	ssl := newClient(t, tb.ListenerAddr("SSL"), kgo.DialTLSConfig(ca.clientTLS(t, nil)))
	saslProduceConsume(t, tb, ssl, topicName(t, "ssl"), 500)

	saslSSL := newClient(t, tb.ListenerAddr("SASL_SSL"), kgo.DialTLSConfig(ca.clientTLS(t, nil)),
		kgo.SASL(plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism()))
	saslProduceConsume(t, tb, saslSSL, topicName(t, "sasl-ssl"), 100)

	up := kadm.UpsertSCRAM{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "carol-512"}
	if res, err := newAdmin(t, tb.Addr()).AlterUserSCRAMs(testCtx(t, 15*time.Second), nil, []kadm.UpsertSCRAM{up}); err != nil || res.Error() != nil {
		t.Fatalf("AlterUserSCRAMs: %v %v", err, res)
	}
	scramSSL := newClient(t, tb.ListenerAddr("SASL_SSL"), kgo.DialTLSConfig(ca.clientTLS(t, nil)),
		kgo.SASL(scram.Auth{User: "carol", Pass: "carol-512"}.AsSha512Mechanism()))
	saslProduceConsume(t, tb, scramSSL, topicName(t, "scram-ssl"), 100)

	err := tlsPing(t, tb.ListenerAddr("SASL_SSL"), ca.clientTLS(t, nil), kgo.SASL(plain.Auth{User: "alice", Pass: "nope"}.AsMechanism()))
	if !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("wrong password over SASL_SSL: %v", err)
	}
	// The server certificate must be checked by clients: another CA's
	// client does not trust it.
	if err := tlsPing(t, tb.ListenerAddr("SSL"), newTestCA(t, "other").clientTLS(t, nil)); err == nil {
		t.Fatal("client trusting another CA connected")
	}
}

// TestTLSClientAuthRequired: with ssl.client.auth=required a client
// without a certificate, or with one from an untrusted CA, is refused at
// the handshake and the broker logs why; one with a trusted certificate
// is served.
func TestTLSClientAuthRequired(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca, withProp("ssl.client.auth", "required"))
	addr := tb.ListenerAddr("SSL")
	if err := tlsPing(t, addr, ca.clientTLS(t, &pkix.Name{CommonName: "alice"})); err != nil {
		t.Fatalf("client with a trusted certificate: %v", err)
	}
	if err := tlsPing(t, addr, ca.clientTLS(t, nil)); err == nil {
		t.Fatal("client without a certificate was served")
	}
	waitFor(t, 10*time.Second, "log of the refused handshake", func() error {
		return logHas(tb, "TLS handshake failed", "certificate")
	})
	untrusted := ca.clientTLS(t, nil)
	untrusted.Certificates = newTestCA(t, "other").clientTLS(t, &pkix.Name{CommonName: "mallory"}).Certificates
	if err := tlsPing(t, addr, untrusted); err == nil {
		t.Fatal("client with an untrusted certificate was served")
	}
	// ssl.client.auth is global here, so SASL_SSL requires a certificate
	// too (TestTLSPrincipalACL sets it on one listener only).
	if err := tlsPing(t, tb.ListenerAddr("SASL_SSL"), ca.clientTLS(t, nil), kgo.SASL(plain.Auth{User: "bob", Pass: "bob-pw"}.AsMechanism())); err == nil {
		t.Fatal("global ssl.client.auth=required did not apply to SASL_SSL")
	}
	if err := tlsPing(t, tb.ListenerAddr("SASL_SSL"), ca.clientTLS(t, &pkix.Name{CommonName: "bob"}), kgo.SASL(plain.Auth{User: "bob", Pass: "bob-pw"}.AsMechanism())); err != nil {
		t.Fatalf("SASL_SSL with a client certificate: %v", err)
	}
}

// logHas reports whether one line of the broker log holds every part.
func logHas(tb *testBroker, parts ...string) error {
	for _, line := range strings.Split(tb.logs.tail(1<<20), "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("no log line with %q", parts)
}

// TestTLSBadClients: a plaintext Kafka request on the TLS port, and a
// client that connects and never starts the handshake, each get a closed
// connection and one log line naming the client's address and the reason.
// connections.max.idle.ms (1 s here) bounds the handshake.
func TestTLSBadClients(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca, withProp("connections.max.idle.ms", "1000"))
	addr := tb.ListenerAddr("SSL")

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := kmsg.NewPtrApiVersionsRequest()
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("plain")).AppendRequest(nil, req, 1)
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c)
	waitFor(t, 10*time.Second, "log of the plaintext client", func() error {
		return logHas(tb, "TLS handshake failed", "remote="+c.LocalAddr().String(), "does not look like a TLS handshake")
	})

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	expectClosed(t, silent)
	waitFor(t, 10*time.Second, "log of the stuck handshake", func() error {
		return logHas(tb, "TLS handshake failed", "remote="+silent.LocalAddr().String(), "handshake not finished within 1s")
	})
	// Plain clients on the plain listener are unaffected.
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(testCtx(t, 10*time.Second), newClient(t, tb.Addr())); err != nil {
		t.Fatal(err)
	}
}

// expectClosed reads from c until the broker closes it (EOF or reset), or
// fails after 10 s.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after 10s")
	}
}

// TestTLSPrincipalACL: on the SSL listener a client certificate's DN is
// the principal (Kafka's RFC 2253 form), mapped by
// ssl.principal.mapping.rules; ACLs on the mapped name allow and deny.
func TestTLSPrincipalACL(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"),
		withProp("listener.name.ssl.ssl.client.auth", "required"),
		withProp("ssl.principal.mapping.rules", `RULE:^CN=(.*?),OU=.*$/$1/L,DEFAULT`))
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 30*time.Second)
	topic := topicName(t, "t")
	createTopic(t, adm, topic, 1, nil)
	acls := kadm.NewACLs().Allow("User:alice", "User:CN=carol,O=acme").AllowHosts("*").Topics(topic).Operations(kadm.OpWrite, kadm.OpDescribe)
	if res, err := adm.CreateACLs(ctx, acls); err != nil || res[0].Err != nil {
		t.Fatalf("create ACLs: %v %+v", err, res)
	}
	produce := func(subject pkix.Name) error {
		cl := newClient(t, tb.ListenerAddr("SSL"), kgo.DialTLSConfig(ca.clientTLS(t, &subject)), kgo.DisableIdempotentWrite())
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(subject.CommonName)}).FirstErr()
	}
	// CN=Alice,OU=eng,O=acme: the rule gives "alice" (lower-cased).
	if err := produce(pkix.Name{CommonName: "Alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"acme"}}); err != nil {
		t.Fatalf("alice: %v", err)
	}
	if err := produce(pkix.Name{CommonName: "bob", OrganizationalUnit: []string{"eng"}}); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("bob (no ACL): %v", err)
	}
	// No OU: the rule does not match and DEFAULT keeps the whole DN.
	if err := produce(pkix.Name{CommonName: "carol", Organization: []string{"acme"}}); err != nil {
		t.Fatalf("CN=carol,O=acme: %v", err)
	}
}

// TestTLSHalfOpenHandshakes: many clients that connect to the TLS port and
// never handshake are all closed by the handshake bound, and the broker
// keeps serving TLS clients meanwhile (no goroutine per handshake holds up
// the accept loop).
func TestTLSHalfOpenHandshakes(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca, withProp("connections.max.idle.ms", "1000"))
	addr := tb.ListenerAddr("SSL")
	const n = 300
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	if err := tlsPing(t, addr, ca.clientTLS(t, nil)); err != nil {
		t.Fatalf("TLS client while %d handshakes hang: %v", n, err)
	}
	// The broker closes every one of them (EOF here), each with its line.
	for _, c := range conns {
		expectClosed(t, c)
	}
	waitFor(t, 10*time.Second, "a log line per stuck handshake", func() error {
		if k := strings.Count(tb.logs.tail(1<<22), "handshake not finished within 1s"); k < n {
			return fmt.Errorf("%d of %d logged", k, n)
		}
		return nil
	})
}

// TestTLSKcat runs librdkafka (kcat) against the SSL listener with a CA
// file and a client certificate (ssl.client.auth=required): produce, then
// consume the records back; without its certificate kcat is refused.
func TestTLSKcat(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat not installed")
	}
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca, withProp("listener.name.ssl.ssl.client.auth", "required"))
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	dir := t.TempDir()
	cert, key := ca.issue(t, pkix.Name{CommonName: "kcat"}, false)
	for name, b := range map[string][]byte{"ca.pem": ca.pem, "client.pem": cert, "client.key": key} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := func(withCert bool, more ...string) []string {
		a := []string{"-b", tb.ListenerAddr("SSL"), "-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + filepath.Join(dir, "ca.pem"), "-t", topic}
		if withCert {
			a = append(a, "-X", "ssl.certificate.location="+filepath.Join(dir, "client.pem"), "-X", "ssl.key.location="+filepath.Join(dir, "client.key"))
		}
		return append(a, more...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prod := exec.CommandContext(ctx, "kcat", args(true, "-P")...)
	prod.Stdin = strings.NewReader("one\ntwo\nthree\n")
	if out, err := prod.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, "kcat", args(true, "-C", "-o", "beginning", "-e", "-q")...).CombinedOutput()
	if err != nil || string(out) != "one\ntwo\nthree\n" {
		t.Fatalf("kcat -C: %v\n%q", err, out)
	}
	out, err = exec.CommandContext(ctx, "kcat", args(false, "-L", "-m", "5")...).CombinedOutput()
	if err == nil {
		t.Fatalf("kcat without a client certificate listed metadata:\n%s", out)
	}
}

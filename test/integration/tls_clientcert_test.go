package integration

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// TestTLSExpiredAndRequested: an expired client certificate is refused
// at the handshake with a log line saying so (ssl.client.auth=required);
// with ssl.client.auth=requested a client without a certificate is
// served, one with a trusted certificate too, and an expired one is still
// refused.
func TestTLSExpiredAndRequested(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca,
		withProp("listener.name.ssl.ssl.client.auth", "required"),
		withProp("listener.name.sasl_ssl.ssl.client.auth", "requested"))
	certPEM, keyPEM := ca.issueUntil(t, pkix.Name{CommonName: "late"}, false, time.Now().Add(-time.Minute))
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	expired := ca.clientTLS(t, nil)
	expired.Certificates = []tls.Certificate{pair}

	if err := tlsPing(t, tb.ListenerAddr("SSL"), expired); err == nil {
		t.Fatal("required: an expired client certificate was served")
	}
	waitFor(t, 10*time.Second, "log of the refused expired certificate", func() error {
		return logHas(tb, "TLS handshake failed", "remote=127.0.0.1:", "expired")
	})

	requested := tb.ListenerAddr("SASL_SSL")
	bob := kgo.SASL(plain.Auth{User: "bob", Pass: "bob-pw"}.AsMechanism())
	if err := tlsPing(t, requested, ca.clientTLS(t, nil), bob); err != nil {
		t.Errorf("requested: a client without a certificate: %v", err)
	}
	if err := tlsPing(t, requested, ca.clientTLS(t, &pkix.Name{CommonName: "alice"}), bob); err != nil {
		t.Errorf("requested: a client with a trusted certificate: %v", err)
	}
	if err := tlsPing(t, requested, expired, bob); err == nil {
		t.Error("requested: an expired client certificate was served")
	}
}

// TestTLSEnabledProtocols: a listener with ssl.enabled.protocols=TLSv1.3
// refuses a TLS 1.2 client and logs why; a TLS 1.3 client is served.
func TestTLSEnabledProtocols(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca, withProp("listener.name.ssl.ssl.enabled.protocols", "TLSv1.3"))
	addr := tb.ListenerAddr("SSL")
	old := ca.clientTLS(t, nil)
	old.MaxVersion = tls.VersionTLS12
	if err := tlsPing(t, addr, old); err == nil {
		t.Fatal("a TLS 1.2 client was served by a TLSv1.3-only listener")
	}
	waitFor(t, 10*time.Second, "log of the refused protocol version", func() error {
		return logHas(tb, "TLS handshake failed", "remote=127.0.0.1:", "version")
	})
	if err := tlsPing(t, addr, ca.clientTLS(t, nil)); err != nil {
		t.Fatalf("a TLS 1.3 client: %v", err)
	}
}

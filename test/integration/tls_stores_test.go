package integration

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// issued is a server certificate signed by a test CA, with its key.
type issued struct {
	cert *x509.Certificate
	key  crypto.PrivateKey
}

func (ca *testCA) issueParsed(t *testing.T, cn string) issued {
	t.Helper()
	return ca.issueParsedFor(t, cn, true)
}

// issueParsedFor issues a server (server) or client certificate for cn.
func (ca *testCA) issueParsedFor(t *testing.T, cn string, server bool) issued {
	t.Helper()
	c, k := ca.issue(t, pkix.Name{CommonName: cn}, server)
	cb, _ := pem.Decode(c)
	kb, _ := pem.Decode(k)
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return issued{cert, key}
}

func (i issued) pkcs12(t *testing.T, pw string) []byte {
	t.Helper()
	b, err := pkcs12.Modern.Encode(i.key, i.cert, nil, pw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (i issued) jks(t *testing.T, storePW, keyPW string) []byte {
	t.Helper()
	der, _ := x509.MarshalPKCS8PrivateKey(i.key)
	ks := jks.New()
	e := jks.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: der, CertificateChain: []jks.Certificate{{Type: "X509", Content: i.cert.Raw}}}
	if err := ks.SetPrivateKeyEntry("broker", e, []byte(keyPW)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(storePW)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (ca *testCA) jksTruststore(t *testing.T, pw string) []byte {
	t.Helper()
	ks := jks.New()
	e := jks.TrustedCertificateEntry{CreationTime: time.Now(), Certificate: jks.Certificate{Type: "X509", Content: ca.cert.Raw}}
	if err := ks.SetTrustedCertificateEntry("ca", e); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(pw)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (ca *testCA) pkcs12Truststore(t *testing.T, pw string) []byte {
	t.Helper()
	b, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.cert}, pw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func storeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serialDialer dials TLS with cfg and records the serial of the server
// certificate of every connection it makes.
type serialDialer struct {
	cfg     *tls.Config
	mu      sync.Mutex
	serials []*big.Int
}

func (d *serialDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	td := &tls.Dialer{Config: d.cfg}
	c, err := td.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.serials = append(d.serials, c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber)
	d.mu.Unlock()
	return c, nil
}

func (d *serialDialer) seen() []*big.Int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*big.Int(nil), d.serials...)
}

// servedSerial makes one new TLS connection to addr and returns the
// serial of the certificate the broker serves.
func servedSerial(t *testing.T, addr string, cfg *tls.Config) (*big.Int, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// TestTLSKeystorePKCS12AndJKS: franz-go produces and consumes with a
// client certificate over an SSL listener whose keystore is PKCS12 and
// truststore JKS, and over a SASL_SSL listener whose keystore is JKS (key
// entry with its own ssl.key.password, type left at Kafka's default) and
// truststore PKCS12.
func TestTLSKeystorePKCS12AndJKS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	dir := t.TempDir()
	sslCert, saslCert := ca.issueParsed(t, "broker"), ca.issueParsed(t, "broker")
	tb := startBroker(t,
		withProp("listeners", "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0"),
		withProp("ssl.client.auth", "required"),
		withProp("listener.name.ssl.ssl.keystore.type", "PKCS12"),
		withProp("listener.name.ssl.ssl.keystore.location", storeFile(t, dir, "ssl.p12", sslCert.pkcs12(t, "ks-pw"))),
		withProp("listener.name.ssl.ssl.keystore.password", "ks-pw"),
		withProp("listener.name.ssl.ssl.truststore.type", "JKS"),
		withProp("listener.name.ssl.ssl.truststore.location", storeFile(t, dir, "trust.jks", ca.jksTruststore(t, "ts-pw"))),
		withProp("listener.name.ssl.ssl.truststore.password", "ts-pw"),
		withProp("listener.name.sasl_ssl.ssl.keystore.location", storeFile(t, dir, "sasl.jks", saslCert.jks(t, "ks-pw", "key-pw"))),
		withProp("listener.name.sasl_ssl.ssl.keystore.password", "ks-pw"),
		withProp("listener.name.sasl_ssl.ssl.key.password", "key-pw"),
		withProp("listener.name.sasl_ssl.ssl.truststore.type", "PKCS12"),
		withProp("listener.name.sasl_ssl.ssl.truststore.location", storeFile(t, dir, "trust.p12", ca.pkcs12Truststore(t, "ts-pw"))),
		withProp("listener.name.sasl_ssl.ssl.truststore.password", "ts-pw"),
		withProp("listener.name.sasl_ssl.sasl.enabled.mechanisms", "PLAIN"),
		withProp("listener.name.sasl_ssl.plain.sasl.jaas.config", plainJAAS),
	)
	client := ca.clientTLS(t, &pkix.Name{CommonName: "alice"})
	for _, l := range []struct {
		name   string
		served *x509.Certificate
		opts   []kgo.Opt
	}{
		{"SSL", sslCert.cert, nil},
		{"SASL_SSL", saslCert.cert, []kgo.Opt{kgo.SASL(plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism())}},
	} {
		serial, err := servedSerial(t, tb.ListenerAddr(l.name), client)
		if err != nil || serial.Cmp(l.served.SerialNumber) != 0 {
			t.Fatalf("%s serves serial %v (%v), want %v", l.name, serial, err, l.served.SerialNumber)
		}
		cl := newClient(t, tb.ListenerAddr(l.name), append(l.opts, kgo.DialTLSConfig(client))...)
		saslProduceConsume(t, tb, cl, topicName(t, l.name), 100)
		// The truststores are in force: no client certificate, no service.
		if err := tlsPing(t, tb.ListenerAddr(l.name), ca.clientTLS(t, nil), l.opts...); err == nil {
			t.Fatalf("%s served a client without a certificate", l.name)
		}
	}
}

// TestTLSEncryptedPEMKey: a listener whose PEM keystore holds a PKCS#8
// key encrypted with ssl.key.password serves franz-go.
func TestTLSEncryptedPEMKey(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	c := ca.issueParsed(t, "broker")
	der, err := pkcs8.MarshalPrivateKey(c.key, []byte("key-pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ks := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})...)
	tb := startBroker(t,
		withProp("listeners", "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0"),
		withProp("listener.name.ssl.ssl.keystore.type", "PEM"),
		withProp("listener.name.ssl.ssl.keystore.location", storeFile(t, t.TempDir(), "ks.pem", ks)),
		withProp("listener.name.ssl.ssl.key.password", "key-pw"),
	)
	cl := newClient(t, tb.ListenerAddr("SSL"), kgo.DialTLSConfig(ca.clientTLS(t, nil)))
	saslProduceConsume(t, tb, cl, topicName(t, "enc"), 50)
}

// startRotatingBroker starts a broker whose SSL listener reads the
// PKCS12 keystore at path (password pw).
func startRotatingBroker(t *testing.T, path string) *testBroker {
	return startBroker(t,
		withProp("listeners", "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0"),
		withProp("listener.name.ssl.ssl.keystore.type", "PKCS12"),
		withProp("listener.name.ssl.ssl.keystore.location", path),
		withProp("listener.name.ssl.ssl.keystore.password", "pw"),
	)
}

// waitServed polls new connections until the broker serves want.
func waitServed(t *testing.T, addr string, cfg *tls.Config, want *big.Int) {
	t.Helper()
	waitFor(t, 15*time.Second, fmt.Sprintf("new connections served serial %v", want), func() error {
		got, err := servedSerial(t, addr, cfg)
		if err != nil {
			return err
		}
		if got.Cmp(want) != 0 {
			return fmt.Errorf("served serial %v", got)
		}
		return nil
	})
}

// TestTLSKeystoreFileRotation: the keystore file is replaced while a
// client is connected. New connections get the new certificate; the
// client's connection made before keeps working (no new dial); a broken
// file written next keeps the new certificate and is logged.
func TestTLSKeystoreFileRotation(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	first, second := ca.issueParsed(t, "broker"), ca.issueParsed(t, "broker")
	path := storeFile(t, t.TempDir(), "ks.p12", first.pkcs12(t, "pw"))
	tb := startRotatingBroker(t, path)
	addr := tb.ListenerAddr("SSL")
	client := ca.clientTLS(t, nil)

	d := &serialDialer{cfg: client}
	cl := newClient(t, addr, kgo.Dialer(d.dial))
	topic := topicName(t, "rot")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	produce := func(v string) {
		t.Helper()
		if err := cl.ProduceSync(testCtx(t, 15*time.Second), &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}
	produce("before")
	dialed := len(d.seen())

	if err := os.WriteFile(path, second.pkcs12(t, "pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitServed(t, addr, client, second.cert.SerialNumber)
	produce("after")
	seen := d.seen()
	if len(seen) != dialed {
		t.Fatalf("the client dialed again (%d connections, %d before the rotation)", len(seen), dialed)
	}
	for _, s := range seen {
		if s.Cmp(first.cert.SerialNumber) != 0 {
			t.Fatalf("the client's connections were made with serial %v, want the first %v", s, first.cert.SerialNumber)
		}
	}

	if err := os.WriteFile(path, []byte("not a keystore"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "log of the failed reload", func() error {
		_, _ = servedSerial(t, addr, client) // a handshake makes the broker look at the file
		return logHas(tb, "TLS reload failed", "ssl.keystore.location")
	})
	if got, err := servedSerial(t, addr, client); err != nil || got.Cmp(second.cert.SerialNumber) != 0 {
		t.Fatalf("after a broken file: serial %v (%v), want the previous %v", got, err, second.cert.SerialNumber)
	}
}

// TestTLSKeystoreAlterConfigs: IncrementalAlterConfigs and AlterConfigs
// of listener.name.ssl.ssl.keystore.location (and its password) switch
// new connections to the new keystore; a keystore that does not load, a
// wrong password or another subject DN is refused with INVALID_REQUEST
// and changes nothing.
func TestTLSKeystoreAlterConfigs(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	dir := t.TempDir()
	first, second, third := ca.issueParsed(t, "broker"), ca.issueParsed(t, "broker"), ca.issueParsed(t, "broker")
	tb := startRotatingBroker(t, storeFile(t, dir, "first.p12", first.pkcs12(t, "pw")))
	addr := tb.ListenerAddr("SSL")
	client := ca.clientTLS(t, nil)
	adm := newAdmin(t, tb.Addr())
	meta, err := adm.BrokerMetadata(testCtx(t, 15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	node := meta.Brokers.NodeIDs()[0]

	set := func(kv ...string) error {
		t.Helper()
		var alters []kadm.AlterConfig
		for i := 0; i < len(kv); i += 2 {
			alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: kv[i], Value: &kv[i+1]})
		}
		res, err := adm.AlterBrokerConfigs(testCtx(t, 15*time.Second), alters, node)
		if err != nil {
			return err
		}
		return res[0].Err
	}
	secondPath := storeFile(t, dir, "second.p12", second.pkcs12(t, "pw2"))
	if err := set("listener.name.ssl.ssl.keystore.location", secondPath, "listener.name.ssl.ssl.keystore.password", "pw2"); err != nil {
		t.Fatalf("IncrementalAlterConfigs to the second keystore: %v", err)
	}
	waitServed(t, addr, client, second.cert.SerialNumber)

	for _, bad := range [][]string{
		{"listener.name.ssl.ssl.keystore.location", storeFile(t, dir, "garbage.p12", []byte("garbage"))},
		{"listener.name.ssl.ssl.keystore.location", storeFile(t, dir, "third.p12", third.pkcs12(t, "pw3"))}, // password still pw2
		{"listener.name.ssl.ssl.keystore.location", filepath.Join(dir, "missing.p12")},
		// Another subject DN: Kafka refuses it unless ssl.allow.dn.changes.
		{"listener.name.ssl.ssl.keystore.location", storeFile(t, dir, "other.p12", ca.issueParsed(t, "other").pkcs12(t, "pw2"))},
	} {
		err := set(bad...)
		if !errors.Is(err, kerr.InvalidRequest) {
			t.Fatalf("alter to %s: %v, want INVALID_REQUEST", bad[1], err)
		}
	}
	if got, err := servedSerial(t, addr, client); err != nil || got.Cmp(second.cert.SerialNumber) != 0 {
		t.Fatalf("after refused alters: serial %v (%v), want %v", got, err, second.cert.SerialNumber)
	}

	// The legacy AlterConfigs replaces the broker's dynamic configs.
	thirdPath, thirdPW := filepath.Join(dir, "third.p12"), "pw3"
	res, err := adm.AlterBrokerConfigsState(testCtx(t, 15*time.Second), []kadm.AlterConfig{
		{Name: "listener.name.ssl.ssl.keystore.location", Value: &thirdPath},
		{Name: "listener.name.ssl.ssl.keystore.password", Value: &thirdPW},
	}, node)
	if err != nil || res[0].Err != nil {
		t.Fatalf("AlterConfigs to the third keystore: %v %v", err, res)
	}
	waitServed(t, addr, client, third.cert.SerialNumber)

	// Passwords are sensitive: DescribeConfigs never returns them.
	described, err := adm.DescribeBrokerConfigs(testCtx(t, 15*time.Second), node)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range described[0].Configs {
		if c.Key == "listener.name.ssl.ssl.keystore.password" {
			found = true
			if c.Value != nil || !c.Sensitive {
				t.Fatalf("keystore password described as %v (sensitive %v)", *c.Value, c.Sensitive)
			}
		}
	}
	if !found {
		t.Fatal("listener.name.ssl.ssl.keystore.password not described")
	}
}

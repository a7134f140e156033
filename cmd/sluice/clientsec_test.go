package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestParseJAAS reads the login module lines Kafka's docs show, and
// rejects malformed ones with a reason.
func TestParseJAAS(t *testing.T) {
	module, opts, err := parseJAAS(`org.apache.kafka.common.security.scram.ScramLoginModule required
		username="carol" password="p\"w;x" extra=bare;`)
	if err != nil || module != "org.apache.kafka.common.security.scram.ScramLoginModule" ||
		opts["username"] != "carol" || opts["password"] != `p"w;x` || opts["extra"] != "bare" {
		t.Fatalf("got %q %v %v", module, opts, err)
	}
	for in, want := range map[string]string{
		``:                                 "no login module class",
		`x.PlainLoginModule username="a";`: "want a flag",
		`x.PlainLoginModule required username="a"`:         "missing ';'",
		`x.PlainLoginModule required username="a;`:         "unterminated",
		`x.PlainLoginModule required username;`:            "want key=value",
		`x.PlainLoginModule required a="b"; y.Z required;`: "one login module only",
	} {
		if _, _, err := parseJAAS(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseJAAS(%q) = %v, want %q", in, err, want)
		}
	}
}

// TestSASLMechanismChecks: the JAAS module must fit the mechanism and
// credentials must be there.
func TestSASLMechanismChecks(t *testing.T) {
	set := func(kv ...string) map[string]secSetting {
		m := map[string]secSetting{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = secSetting{kv[i+1], "test"}
		}
		return m
	}
	for _, c := range []struct {
		s    map[string]secSetting
		want string
	}{
		{set("sasl.mechanism", "PLAIN", "sasl.jaas.config", `a.ScramLoginModule required username="u" password="p";`), "takes .PlainLoginModule"},
		{set("sasl.mechanism", "SCRAM-SHA-256", "sasl.username", "u"), "needs a user name and a password"},
		{set("sasl.mechanism", "GSSAPI"), "want PLAIN"},
		{set("sasl.mechanism", "OAUTHBEARER"), "unsecuredLoginStringClaim_sub"},
	} {
		if _, err := saslMechanism(c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.s, err, c.want)
		}
	}
	if _, err := saslMechanism(set("sasl.mechanism", "scram-sha-512", "sasl.username", "u", "sasl.password", "p")); err != nil {
		t.Errorf("scram with sasl.username/password: %v", err)
	}
}

// selfSignedPEM is a CA-and-server certificate for dnsName, in PEM.
func selfSignedPEM(t *testing.T, dnsName string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// TestHostnameVerification: with ssl.endpoint.identification.algorithm
// https (the default) a server certificate that does not name the host
// dialled is refused; empty accepts it, yet still refuses a certificate
// the truststore does not vouch for.
func TestHostnameVerification(t *testing.T) {
	certPEM, keyPEM := selfSignedPEM(t, "broker.example")
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	otherPEM, _ := selfSignedPEM(t, "other")
	dial := func(trust []byte, kv ...string) error {
		s := map[string]secSetting{"ssl.truststore.certificates": {string(trust), "test"}}
		for i := 0; i < len(kv); i += 2 {
			s[kv[i]] = secSetting{kv[i+1], "test"}
		}
		cfg, err := clientTLS(s)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(certPEM); err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("default (https) with a certificate for another name: %v", err)
	}
	if err := dial(certPEM, "ssl.endpoint.identification.algorithm", "HTTPS"); err == nil {
		t.Error("https with a certificate for another name connected")
	}
	if err := dial(certPEM, "ssl.endpoint.identification.algorithm", ""); err != nil {
		t.Errorf("empty algorithm, trusted certificate: %v", err)
	}
	if err := dial(otherPEM, "ssl.endpoint.identification.algorithm", ""); err == nil {
		t.Error("empty algorithm accepted a certificate the truststore does not hold")
	}
}

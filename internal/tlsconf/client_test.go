package tlsconf

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// testCA issues certificates for the client-side tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue returns a leaf for cn (client and server use) with the given
// SANs: chain and key in PEM.
func (ca *testCA) issue(t *testing.T, cn string, ips []net.IP, dns []string) (chain, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: ips, DNSNames: dns,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// mtlsServer serves TLS with chain/key, requiring a client certificate
// from clientCA; it reports each handshake's client CN (or error).
func mtlsServer(t *testing.T, chain, key string, clientCA *testCA) (string, chan string) {
	t.Helper()
	cert, err := tls.X509KeyPair([]byte(chain), []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	seen := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
				if err := tc.Handshake(); err != nil {
					seen <- "error: " + err.Error()
					return
				}
				seen <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
				_, _ = tc.Write([]byte("ok"))
			}()
		}
	}()
	return ln.Addr().String(), seen
}

// TestClientDial: the client side of a listener's config presents its
// keystore as the client certificate, verifies the server against its
// truststore, and checks the dialed IP against the server's SANs unless
// ssl.endpoint.identification.algorithm is empty.
func TestClientDial(t *testing.T) {
	ca, rogue := newTestCA(t, "cluster-ca"), newTestCA(t, "rogue-ca")
	brokerChain, brokerKey := ca.issue(t, "broker-1", []net.IP{net.IPv4(127, 0, 0, 1)}, nil)
	wrongChain, wrongKey := ca.issue(t, "broker-2", nil, []string{"elsewhere.invalid"})
	rogueChain, rogueKey := rogue.issue(t, "intruder", []net.IP{net.IPv4(127, 0, 0, 1)}, nil)

	goodAddr, goodSeen := mtlsServer(t, brokerChain, brokerKey, ca)
	wrongAddr, _ := mtlsServer(t, wrongChain, wrongKey, ca)
	rogueAddr, _ := mtlsServer(t, rogueChain, rogueKey, ca)

	client := func(identification *string) *ClientConfig {
		t.Helper()
		m := map[string]string{"ssl.keystore.certificate.chain": brokerChain, "ssl.keystore.key": brokerKey,
			"ssl.truststore.certificates": ca.pem}
		if identification != nil {
			m["ssl.endpoint.identification.algorithm"] = *identification
		}
		cc, err := Client(props(m))
		if err != nil {
			t.Fatal(err)
		}
		return cc
	}
	dial := func(cc *ClientConfig, addr string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var d net.Dialer
		c, err := cc.Dial(d.DialContext)(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 2)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(buf)
		return err
	}
	off, https := "", "HTTPS"

	for _, cc := range []*ClientConfig{client(nil), client(&https)} {
		if err := dial(cc, goodAddr); err != nil {
			t.Fatalf("dial a trusted server whose SAN holds the IP: %v", err)
		}
		if cn := <-goodSeen; cn != "broker-1" {
			t.Errorf("server saw client %q, want the keystore's certificate broker-1", cn)
		}
		err := dial(cc, wrongAddr)
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("host verification on, server certificate for elsewhere.invalid: %v", err)
		}
	}
	if err := dial(client(&off), wrongAddr); err != nil {
		t.Errorf("host verification off, trusted server with another name: %v", err)
	}
	for _, cc := range []*ClientConfig{client(nil), client(&off)} {
		if err := dial(cc, rogueAddr); err == nil || !strings.Contains(err.Error(), "unknown authority") {
			t.Errorf("server signed by an untrusted CA: %v", err)
		}
	}
	if _, err := Client(props(map[string]string{"ssl.keystore.certificate.chain": brokerChain, "ssl.keystore.key": brokerKey,
		"ssl.endpoint.identification.algorithm": "ldap"})); err == nil || !strings.Contains(err.Error(), "ssl.endpoint.identification.algorithm=ldap") {
		t.Errorf("unknown algorithm: %v", err)
	}
}

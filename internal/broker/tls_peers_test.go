package broker

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// peerCA signs the certificates of the controller listener test.
type peerCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newPeerCA(t *testing.T) *peerCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &peerCA{cert: cert, key: key}
}

func (ca *peerCA) leaf(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ca *peerCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTLSPeerListener: the controller listener's connections carry plain
// bytes after a mutual-TLS handshake; a peer with an untrusted
// certificate and one that never starts its handshake are refused, each
// reason logged once however often the peer retries.
func TestTLSPeerListener(t *testing.T) {
	ca, rogue := newPeerCA(t), newPeerCA(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ln := &tlsPeerListener{Listener: raw, timeout: 300 * time.Millisecond,
		cfg:  &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, "controller")}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool()},
		logs: &onceLog{logger: slog.New(slog.NewTextHandler(logs, nil)), seen: map[string]string{}}}
	defer ln.Close()
	ended := make(chan error, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 5)
				if _, err := io.ReadFull(c, buf); err != nil {
					ended <- err
					return
				}
				_, err := c.Write(buf)
				ended <- err
			}()
		}
	}()
	addr := ln.Addr().String()
	client := func(cert tls.Certificate) error {
		c, err := tls.Dial("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.pool()})
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("hello")); err != nil {
			return err
		}
		got := make([]byte, 5)
		if _, err := io.ReadFull(c, got); err != nil {
			return err
		}
		if string(got) != "hello" {
			t.Errorf("echo %q", got)
		}
		return nil
	}
	waitEnded := func() error {
		select {
		case err := <-ended:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("the server side of a connection never ended")
			return nil
		}
	}

	if err := client(ca.leaf(t, "broker-1")); err != nil {
		t.Fatalf("trusted peer: %v", err)
	}
	if err := waitEnded(); err != nil {
		t.Fatalf("trusted peer, server side: %v", err)
	}
	for range 3 {
		if err := client(rogue.leaf(t, "intruder")); err == nil {
			t.Fatal("a peer with an untrusted certificate got in")
		}
		if err := waitEnded(); err == nil {
			t.Fatal("server side served a peer with an untrusted certificate")
		}
	}
	if n := strings.Count(logs.String(), "unknown authority"); n != 1 {
		t.Errorf("%d log lines name the untrusted certificate after three tries, want 1:\n%s", n, logs)
	}

	// A peer that connects and says nothing is dropped after the bound.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := waitEnded(); err == nil {
		t.Fatal("a stuck handshake was not ended")
	}
	if !strings.Contains(logs.String(), "deadline exceeded") {
		t.Errorf("no log line for the stuck handshake:\n%s", logs)
	}
}

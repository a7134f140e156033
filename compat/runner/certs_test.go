package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
)

// The files must be what the broker's PEM keystore and franz-go's
// KGO_TEST_TLS read, and verify for both names the suites dial.
func TestWriteTLSFiles(t *testing.T) {
	f, err := writeTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	// The keystore is one file with the chain and the key.
	srv, err := tls.LoadX509KeyPair(f.ServerStore, f.ServerStore)
	if err != nil {
		t.Fatalf("server keystore: %v", err)
	}
	leaf, err := x509.ParseCertificate(srv.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	cli, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		t.Fatalf("client certificate: %v", err)
	}
	cleaf, err := x509.ParseCertificate(cli.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cleaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if cleaf.Subject.CommonName != clientCN {
		t.Errorf("client CN %q, want %q", cleaf.Subject.CommonName, clientCN)
	}
}

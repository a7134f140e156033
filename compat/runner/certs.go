package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tlsFiles are the PEM files of a run's private CA: the broker's keystore
// (its certificate and key in one file, ssl.keystore.type=PEM), the CA
// the broker trusts client certificates by and clients trust the broker
// by, and one client certificate with its key.
type tlsFiles struct {
	CA, ServerStore, ClientCert, ClientKey string
}

// clientCN is the client certificate's subject; on the SSL listener the
// client is User:CN=<clientCN>.
const clientCN = "sluice-compat-client"

// writeTLSFiles makes a fresh CA, a server certificate for 127.0.0.1 and
// localhost (every node of a cluster listens on 127.0.0.1, so one
// certificate serves them all) and a client certificate, all valid for a
// day, and writes them to dir.
func writeTLSFiles(dir string) (*tlsFiles, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sluice compat CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP, dns []string) (certPEM, keyPEM []byte, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
			DNSNames:     dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		pk, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), nil
	}
	srvCert, srvKey, err := leaf(2, "localhost", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	if err != nil {
		return nil, err
	}
	cliCert, cliKey, err := leaf(3, clientCN, x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return nil, err
	}
	f := &tlsFiles{
		CA:          filepath.Join(dir, "ca.pem"),
		ServerStore: filepath.Join(dir, "server-keystore.pem"),
		ClientCert:  filepath.Join(dir, "client.pem"),
		ClientKey:   filepath.Join(dir, "client-key.pem"),
	}
	for path, b := range map[string][]byte{
		f.CA:          pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		f.ServerStore: append(srvCert, srvKey...),
		f.ClientCert:  cliCert,
		f.ClientKey:   cliKey,
	} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// brokerOverrides configure every SSL listener with the server keystore
// and require a client certificate signed by the CA (mutual TLS, so the
// suites exercise both directions of verification).
func (f *tlsFiles) brokerOverrides() []string {
	return []string{
		"ssl.keystore.type=PEM", "ssl.keystore.location=" + f.ServerStore,
		"ssl.truststore.type=PEM", "ssl.truststore.location=" + f.CA,
		"ssl.client.auth=required",
	}
}

// kgoEnv is KGO_TEST_TLS in franz-go's DSL: trust the CA, present the
// client certificate.
func (f *tlsFiles) kgoEnv() string {
	return "KGO_TEST_TLS=" + strings.Join([]string{"ca:" + f.CA, "cert:" + f.ClientCert, "key:" + f.ClientKey}, ",")
}

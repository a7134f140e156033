package tlsconf

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// pair is a self-signed certificate with its key.
type pair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newPair(t *testing.T, cn string, serial int64, dnsNames ...string) pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, DNSNames: dnsNames}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return pair{cert, key}
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p pair) pkcs12(t *testing.T, pw string) []byte {
	t.Helper()
	b, err := pkcs12.Modern.Encode(p.key, p.cert, nil, pw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (p pair) jksKeystore(t *testing.T, storePW, keyPW string) []byte {
	t.Helper()
	der, _ := x509.MarshalPKCS8PrivateKey(p.key)
	ks := jks.New()
	e := jks.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: der,
		CertificateChain: []jks.Certificate{{Type: "X509", Content: p.cert.Raw}}}
	if err := ks.SetPrivateKeyEntry("broker", e, []byte(keyPW)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(storePW)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jksTruststore(t *testing.T, pw string, certs ...*x509.Certificate) []byte {
	t.Helper()
	ks := jks.New()
	for i, c := range certs {
		e := jks.TrustedCertificateEntry{CreationTime: time.Now(), Certificate: jks.Certificate{Type: "X509", Content: c.Raw}}
		if err := ks.SetTrustedCertificateEntry("ca"+string(rune('a'+i)), e); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(pw)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (p pair) encryptedPEM(t *testing.T, pw string) string {
	t.Helper()
	der, err := pkcs8.MarshalPrivateKey(p.key, []byte(pw), nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Raw})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}))
}

// served is the serial of the leaf a configuration serves.
func served(t *testing.T, cfg *tls.Config) int64 {
	t.Helper()
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

// TestKeystoreFormats: PKCS12 and JKS key and trust stores load with the
// right passwords, whatever of JKS/PKCS12 the type names (the JVM's
// compatibility mode), unset type included; a JKS key entry takes
// ssl.key.password, else the store password.
func TestKeystoreFormats(t *testing.T) {
	p := newPair(t, "broker", 7)
	ca := newPair(t, "ca", 8)
	p12 := writeFile(t, "ks.p12", p.pkcs12(t, "store-pw"))
	jksSame := writeFile(t, "same.jks", p.jksKeystore(t, "store-pw", "store-pw"))
	jksOwn := writeFile(t, "own.jks", p.jksKeystore(t, "store-pw", "key-pw"))
	trustJKS := writeFile(t, "trust.jks", jksTruststore(t, "trust-pw", ca.cert))
	p12Trust, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.cert}, "trust-pw")
	if err != nil {
		t.Fatal(err)
	}
	trustP12 := writeFile(t, "trust.p12", p12Trust)
	for _, tc := range []struct {
		name string
		m    map[string]string
	}{
		{"pkcs12", map[string]string{"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p12, "ssl.keystore.password": "store-pw",
			"ssl.truststore.type": "PKCS12", "ssl.truststore.location": trustP12, "ssl.truststore.password": "trust-pw"}},
		{"pkcs12 read as JKS", map[string]string{"ssl.keystore.type": "JKS", "ssl.keystore.location": p12, "ssl.keystore.password": "store-pw"}},
		{"jks default type", map[string]string{"ssl.keystore.location": jksSame, "ssl.keystore.password": "store-pw",
			"ssl.truststore.location": trustJKS, "ssl.truststore.password": "trust-pw"}},
		{"jks own key password", map[string]string{"ssl.keystore.type": "JKS", "ssl.keystore.location": jksOwn,
			"ssl.keystore.password": "store-pw", "ssl.key.password": "key-pw"}},
		{"encrypted pem", map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": writeFile(t, "enc.pem", []byte(p.encryptedPEM(t, "pem-pw"))),
			"ssl.key.password": "pem-pw"}},
		{"encrypted pem inline", map[string]string{"ssl.keystore.type": "PEM",
			"ssl.keystore.certificate.chain": strings.SplitAfter(p.encryptedPEM(t, "x"), "-----END CERTIFICATE-----\n")[0],
			"ssl.keystore.key":               strings.SplitAfter(p.encryptedPEM(t, "pem-pw"), "-----END CERTIFICATE-----\n")[1], "ssl.key.password": "pem-pw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Server(props(tc.m))
			if err != nil {
				t.Fatal(err)
			}
			if got := served(t, cfg); got != 7 {
				t.Fatalf("served serial %d, want 7", got)
			}
			if _, ok := tc.m["ssl.truststore.location"]; ok && (cfg.ClientCAs == nil || !cfg.ClientCAs.Equal(poolOf(ca.cert))) {
				t.Fatal("truststore does not hold exactly the CA")
			}
		})
	}
}

func poolOf(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

// TestKeystoreErrors: each bad store or password fails with the key to
// fix and the cause.
func TestKeystoreErrors(t *testing.T) {
	p := newPair(t, "broker", 7)
	p12 := writeFile(t, "ks.p12", p.pkcs12(t, "store-pw"))
	jksOwn := writeFile(t, "own.jks", p.jksKeystore(t, "store-pw", "key-pw"))
	encPEM := writeFile(t, "enc.pem", []byte(p.encryptedPEM(t, "pem-pw")))
	garbage := writeFile(t, "garbage", []byte("not a store"))
	for _, tc := range []struct {
		name string
		m    map[string]string
		want string
	}{
		{"pkcs12 wrong password", map[string]string{"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p12, "ssl.keystore.password": "nope"}, "ssl.keystore.location=" + p12 + " (PKCS12)"},
		{"jks wrong store password", map[string]string{"ssl.keystore.location": jksOwn, "ssl.keystore.password": "nope", "ssl.key.password": "key-pw"}, "digest"},
		{"jks wrong key password", map[string]string{"ssl.keystore.location": jksOwn, "ssl.keystore.password": "store-pw"}, "ssl.key.password"},
		{"jks no password", map[string]string{"ssl.keystore.location": jksOwn}, "needs ssl.keystore.password"},
		{"garbage", map[string]string{"ssl.keystore.location": garbage}, "not a JKS (the default) store"},
		{"garbage as PKCS12", map[string]string{"ssl.keystore.type": "pkcs12", "ssl.keystore.location": garbage}, "not a PKCS12 store"},
		{"unknown type", map[string]string{"ssl.keystore.type": "BKS", "ssl.keystore.location": p12}, "ssl.keystore.type=BKS: must be JKS, PKCS12 or PEM"},
		{"encrypted pem without password", map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": encPEM}, "encrypted: set ssl.key.password"},
		{"encrypted pem wrong password", map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": encPEM, "ssl.key.password": "nope"}, "decrypt the private key with ssl.key.password"},
		{"inline with JKS type", map[string]string{"ssl.keystore.type": "JKS", "ssl.keystore.certificate.chain": "x", "ssl.keystore.key": "y"}, "set ssl.keystore.type=PEM"},
		{"jks truststore no password", map[string]string{"ssl.keystore.location": p12, "ssl.keystore.password": "store-pw",
			"ssl.truststore.location": writeFile(t, "t.jks", jksTruststore(t, "pw", p.cert))}, "needs ssl.truststore.password"},
		{"pkcs12 keystore as truststore", map[string]string{"ssl.keystore.location": p12, "ssl.keystore.password": "store-pw",
			"ssl.truststore.location": p12, "ssl.truststore.password": "store-pw"}, "ssl.truststore.location=" + p12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Server(props(tc.m))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

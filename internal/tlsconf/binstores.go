package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// pkcs12KeyPair reads a PKCS#12 keystore holding one private key and its
// chain. Its key is protected by the store password, as keytool and
// openssl write PKCS12 stores (ssl.key.password is not used).
func pkcs12KeyPair(b []byte, password string) (tls.Certificate, error) {
	key, leaf, cas, err := pkcs12.DecodeChain(b, password)
	if err != nil {
		return tls.Certificate{}, err
	}
	return keyPair(key, append([]*x509.Certificate{leaf}, cas...))
}

// pkcs12Trusted reads a PKCS#12 truststore: certificates marked as Java
// trust anchors, the only entries the JVM trusts in one.
func pkcs12Trusted(b []byte, password string) ([]*x509.Certificate, error) {
	certs, err := pkcs12.DecodeTrustStore(b, password)
	if err == nil && len(certs) == 0 {
		err = errors.New("no trusted certificate entry")
	}
	return certs, err
}

func loadJKS(b []byte, password string) (jks.KeyStore, error) {
	ks := jks.New()
	if err := ks.Load(bytes.NewReader(b), []byte(password)); err != nil {
		return ks, err
	}
	return ks, nil
}

// jksKeyPair reads a JKS keystore with exactly one private key entry.
// The JVM's key manager would pick among several by key type; Sluice
// serves one certificate and refuses to guess.
func jksKeyPair(b []byte, storePW, keyPW string) (tls.Certificate, error) {
	ks, err := loadJKS(b, storePW)
	if err != nil {
		return tls.Certificate{}, err
	}
	var aliases []string
	for _, a := range ks.Aliases() {
		if ks.IsPrivateKeyEntry(a) {
			aliases = append(aliases, a)
		}
	}
	slices.Sort(aliases)
	switch len(aliases) {
	case 0:
		return tls.Certificate{}, errors.New("no private key entry")
	case 1:
	default:
		return tls.Certificate{}, fmt.Errorf("%d private key entries (%s): Sluice serves one", len(aliases), strings.Join(aliases, ", "))
	}
	e, err := ks.GetPrivateKeyEntry(aliases[0], []byte(keyPW))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("entry %q (ssl.key.password): %w", aliases[0], err)
	}
	key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("entry %q: %w", aliases[0], err)
	}
	var chain []*x509.Certificate
	for i, c := range e.CertificateChain {
		cert, err := x509.ParseCertificate(c.Content)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("entry %q certificate %d: %w", aliases[0], i+1, err)
		}
		chain = append(chain, cert)
	}
	return keyPair(key, chain)
}

// jksTrusted reads the trusted certificate entries of a JKS truststore
// (the JVM's trust manager ignores key entries' chains).
func jksTrusted(b []byte, password string) ([]*x509.Certificate, error) {
	ks, err := loadJKS(b, password)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	aliases := ks.Aliases()
	slices.Sort(aliases)
	for _, a := range aliases {
		if !ks.IsTrustedCertificateEntry(a) {
			continue
		}
		e, err := ks.GetTrustedCertificateEntry(a)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", a, err)
		}
		c, err := x509.ParseCertificate(e.Certificate.Content)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", a, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no trusted certificate entry")
	}
	return out, nil
}

// keyPair builds a served certificate from a decoded key and chain (leaf
// first) through tls.X509KeyPair, which checks the key matches the leaf.
func keyPair(key any, chain []*x509.Certificate) (tls.Certificate, error) {
	if len(chain) == 0 {
		return tls.Certificate{}, errors.New("no certificate with the private key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	var certPEM []byte
	for _, c := range chain {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

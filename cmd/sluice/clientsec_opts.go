package main

// Turning resolved client keys (clientsec.go) into franz-go's TLS and
// SASL options.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// clientSecurityOpts checks the settings against security.protocol and
// builds the options. Keys that the protocol does not use are ignored when
// they come from the properties file (as Kafka's clients do), but refused
// when given as flags or environment, where they are a forgotten
// --security-protocol rather than a shared file.
func clientSecurityOpts(s map[string]secSetting) ([]kgo.Opt, error) {
	proto := strings.ToUpper(s["security.protocol"].value)
	if proto == "" {
		proto = "PLAINTEXT"
	}
	var useTLS, useSASL bool
	switch proto {
	case "PLAINTEXT":
	case "SSL":
		useTLS = true
	case "SASL_PLAINTEXT":
		useSASL = true
	case "SASL_SSL":
		useTLS, useSASL = true, true
	default:
		return nil, fmt.Errorf("security.protocol %q (from %s): want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", s["security.protocol"].value, s["security.protocol"].from)
	}
	for k, v := range s {
		if !strings.HasPrefix(v.from, "--") && !strings.HasPrefix(v.from, "$") {
			continue
		}
		if (strings.HasPrefix(k, "ssl.") && !useTLS) || (strings.HasPrefix(k, "sasl.") && !useSASL) {
			return nil, fmt.Errorf("%s sets %s, which security.protocol %s does not use (want --security-protocol %s)", v.from, k, proto, wantProto(k, useTLS, useSASL))
		}
	}
	var opts []kgo.Opt
	if useTLS {
		cfg, err := clientTLS(s)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if useSASL {
		m, err := saslMechanism(s)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// wantProto names the protocol that would use key, keeping what is on.
func wantProto(key string, useTLS, useSASL bool) string {
	if strings.HasPrefix(key, "ssl.") {
		useTLS = true
	} else {
		useSASL = true
	}
	switch {
	case useTLS && useSASL:
		return "SASL_SSL"
	case useTLS:
		return "SSL"
	}
	return "SASL_PLAINTEXT"
}

// clientTLS builds the TLS configuration: the truststore (else the
// system's roots), an optional client certificate, and host name
// verification unless ssl.endpoint.identification.algorithm is empty.
func clientTLS(s map[string]secSetting) (*tls.Config, error) {
	for _, k := range []string{"ssl.truststore.type", "ssl.keystore.type"} {
		if v := s[k]; v.value != "" && !strings.EqualFold(v.value, "PEM") {
			return nil, fmt.Errorf("%s=%s (from %s): the CLI reads PEM stores only; convert with openssl (e.g. openssl pkcs12 -in store.p12 -nodes)", k, v.value, v.from)
		}
	}
	for _, k := range []string{"ssl.keystore.password", "ssl.key.password"} {
		if v := s[k]; v.value != "" {
			return nil, fmt.Errorf("%s (from %s): the CLI reads unencrypted PEM keys only; decrypt the key (openssl pkey -in key.pem)", k, v.from)
		}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	roots, err := truststore(s)
	if err != nil {
		return nil, err
	}
	cfg.RootCAs = roots
	cert, ok, err := keystore(s)
	if err != nil {
		return nil, err
	}
	if ok {
		cfg.Certificates = []tls.Certificate{cert}
	}
	alg, set := s["ssl.endpoint.identification.algorithm"]
	switch {
	case !set || strings.EqualFold(alg.value, "https"):
	case alg.value == "":
		skipHostname(cfg)
	default:
		return nil, fmt.Errorf("ssl.endpoint.identification.algorithm %q (from %s): want https or empty", alg.value, alg.from)
	}
	return cfg, nil
}

// skipHostname verifies the chain against the roots but not the name, as
// Kafka does with ssl.endpoint.identification.algorithm empty. Go has no
// switch for that alone, so the standard check is off and this one on.
func skipHostname(cfg *tls.Config) {
	roots := cfg.RootCAs
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the broker sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
		return err
	}
}

// truststore is the CA pool from ssl.truststore.location (or librdkafka's
// ssl.ca.location) or inline ssl.truststore.certificates; nil means the
// system's roots.
func truststore(s map[string]secSetting) (*x509.CertPool, error) {
	var pemBytes []byte
	var from string
	switch {
	case s["ssl.truststore.certificates"].value != "":
		v := s["ssl.truststore.certificates"]
		pemBytes, from = []byte(v.value), "ssl.truststore.certificates (from "+v.from+")"
	case s["ssl.truststore.location"].value != "", s["ssl.ca.location"].value != "":
		v := s["ssl.truststore.location"]
		if v.value == "" {
			v = s["ssl.ca.location"]
		}
		b, err := os.ReadFile(v.value)
		if err != nil {
			return nil, fmt.Errorf("CA file (from %s): %w", v.from, err)
		}
		pemBytes, from = b, v.value
	default:
		return nil, nil
	}
	certs, err := pemCerts(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("truststore %s: %w", from, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// keystore is the client certificate and key, from one PEM file
// (ssl.keystore.location, Kafka's PEM keystore), inline
// (ssl.keystore.certificate.chain and ssl.keystore.key), or librdkafka's
// ssl.certificate.location and ssl.key.location.
func keystore(s map[string]secSetting) (tls.Certificate, bool, error) {
	var chain, key []byte
	var from string
	read := func(k string) ([]byte, error) {
		b, err := os.ReadFile(s[k].value)
		if err != nil {
			return nil, fmt.Errorf("%s (from %s): %w", k, s[k].from, err)
		}
		return b, nil
	}
	var err error
	switch {
	case s["ssl.keystore.location"].value != "":
		from = s["ssl.keystore.location"].value
		if chain, err = read("ssl.keystore.location"); err != nil {
			return tls.Certificate{}, false, err
		}
		key = chain
	case s["ssl.keystore.certificate.chain"].value != "" || s["ssl.keystore.key"].value != "":
		from = "ssl.keystore.certificate.chain and ssl.keystore.key"
		chain, key = []byte(s["ssl.keystore.certificate.chain"].value), []byte(s["ssl.keystore.key"].value)
	case s["ssl.certificate.location"].value != "" || s["ssl.key.location"].value != "":
		if s["ssl.certificate.location"].value == "" || s["ssl.key.location"].value == "" {
			return tls.Certificate{}, false, errors.New("a client certificate needs both --ssl-cert (ssl.certificate.location) and --ssl-key (ssl.key.location)")
		}
		from = s["ssl.certificate.location"].value + " and " + s["ssl.key.location"].value
		if chain, err = read("ssl.certificate.location"); err != nil {
			return tls.Certificate{}, false, err
		}
		if key, err = read("ssl.key.location"); err != nil {
			return tls.Certificate{}, false, err
		}
	default:
		return tls.Certificate{}, false, nil
	}
	cert, err := tls.X509KeyPair(chain, key)
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("client certificate %s: %w", from, err)
	}
	return cert, true, nil
}

// pemCerts decodes every CERTIFICATE block; there must be one at least.
func pemCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block (the CLI reads PEM only)")
	}
	return out, nil
}

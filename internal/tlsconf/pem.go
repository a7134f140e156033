package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// parseKeyPair reads a PEM certificate chain (leaf first) and one
// unencrypted private key (PKCS#8, PKCS#1 or SEC 1).
func parseKeyPair(b []byte) (tls.Certificate, error) {
	var certPEM, keyPEM []byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch {
		case blk.Type == "CERTIFICATE":
			certPEM = append(certPEM, pem.EncodeToMemory(blk)...)
		case blk.Type == "ENCRYPTED PRIVATE KEY" || blk.Headers["Proc-Type"] != "":
			// Go's standard library reads no encrypted PKCS#8 key, and
			// Sluice hand-writes no crypto: refuse rather than guess.
			return tls.Certificate{}, errors.New("the private key is encrypted (ssl.key.password): Sluice reads only unencrypted PEM keys so far; decrypt it with `openssl pkcs8 -topk8 -nocrypt` and protect the file instead")
		case strings.HasSuffix(blk.Type, "PRIVATE KEY"): // PKCS#8, RSA, EC
			if keyPEM != nil {
				return tls.Certificate{}, errors.New("more than one private key")
			}
			keyPEM = pem.EncodeToMemory(blk)
		}
	}
	if certPEM == nil {
		return tls.Certificate{}, errors.New("no PEM CERTIFICATE block")
	}
	if keyPEM == nil {
		return tls.Certificate{}, errors.New("no PEM PRIVATE KEY block")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	return cert, nil
}

// parseCerts reads every PEM CERTIFICATE block; at least one is required.
func parseCerts(b []byte) ([]*x509.Certificate, error) {
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
			return nil, fmt.Errorf("certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return out, nil
}

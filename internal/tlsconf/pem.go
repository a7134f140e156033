package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/youmark/pkcs8"
)

// parseKeyPair reads a PEM certificate chain (leaf first) and one private
// key: PKCS#8, PKCS#1 or SEC 1, or PKCS#8 encrypted with password
// (ssl.key.password), as Kafka's PEM stores take it.
func parseKeyPair(b []byte, password string, hasPassword bool) (tls.Certificate, error) {
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
		case blk.Type == "ENCRYPTED PRIVATE KEY":
			if keyPEM != nil {
				return tls.Certificate{}, errors.New("more than one private key")
			}
			if !hasPassword {
				return tls.Certificate{}, errors.New("the private key is encrypted: set ssl.key.password")
			}
			var err error
			if keyPEM, err = decryptPKCS8(blk.Bytes, password); err != nil {
				return tls.Certificate{}, err
			}
		case blk.Headers["Proc-Type"] != "":
			// OpenSSL's legacy encryption: Kafka's PEM stores refuse it
			// too (encrypted keys must be PKCS#8).
			return tls.Certificate{}, errors.New("the private key uses OpenSSL's legacy PEM encryption (Proc-Type): convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc`")
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

// decryptPKCS8 decrypts an ENCRYPTED PRIVATE KEY (PKCS#8 with PBES2,
// as openssl pkcs8 -topk8 writes it) into an unencrypted PKCS#8 PEM.
func decryptPKCS8(der []byte, password string) ([]byte, error) {
	key, err := pkcs8.ParsePKCS8PrivateKey(der, []byte(password))
	if err != nil {
		return nil, fmt.Errorf("decrypt the private key with ssl.key.password: %w", err)
	}
	plain, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: plain}), nil
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

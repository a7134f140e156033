package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// Store formats of ssl.keystore.type and ssl.truststore.type.
const (
	typePEM    = "PEM"
	typeJKS    = "JKS"
	typePKCS12 = "PKCS12"
)

// jksMagic starts every JKS file; JCEKS starts with 0xCECECECE.
var (
	jksMagic   = []byte{0xfe, 0xed, 0xfe, 0xed}
	jceksMagic = []byte{0xce, 0xce, 0xce, 0xce}
)

// storeType reads ssl.keystore.type or ssl.truststore.type: PEM, JKS or
// PKCS12 (upper-cased); "" when unset, which Kafka takes as JKS.
func storeType(get Lookup, key string) (string, error) {
	v, from, ok := get(key)
	t := strings.ToUpper(strings.TrimSpace(v))
	switch {
	case !ok || t == "":
		return "", nil
	case t == typePEM || t == typeJKS || t == typePKCS12:
		return t, nil
	}
	return "", fmt.Errorf("%s=%s: must be JKS, PKCS12 or PEM", from, v)
}

// fileFormat decides how a store file of type t is read. JKS and PKCS12
// follow the JVM's keystore.type.compat (on by default since Java 9): a
// store of either type loads a file of the other, so the file's first
// bytes decide. Unset is Kafka's JKS; a PEM file is also read then, as
// Sluice read PEM before it read the binary stores (Kafka needs
// ssl.*.type=PEM for PEM files).
func fileFormat(t string, b []byte) (string, error) {
	if t == typePEM {
		return typePEM, nil
	}
	switch {
	case bytes.HasPrefix(b, jksMagic):
		return typeJKS, nil
	case bytes.HasPrefix(b, jceksMagic):
		return "", fmt.Errorf("a JCEKS store: convert it to PKCS12 (keytool -importkeystore -deststoretype PKCS12)")
	case len(b) > 0 && b[0] == 0x30: // a DER SEQUENCE: PKCS#12's PFX
		return typePKCS12, nil
	case t == "" && bytes.Contains(b, []byte("-----BEGIN ")):
		return typePEM, nil
	}
	if t == "" {
		t = typeJKS + " (the default)"
	}
	return "", fmt.Errorf("not a %s store, nor PKCS12 or JKS (set the type to PEM for a PEM file)", t)
}

// password returns an ssl.*.password's value; ok is false when unset.
func password(get Lookup, key string) (string, bool) {
	v, _, ok := get(key)
	return v, ok
}

// hasKeystore says whether any keystore key is set: a client without one
// presents no certificate.
func hasKeystore(get Lookup) bool {
	for _, k := range []string{"ssl.keystore.location", "ssl.keystore.certificate.chain", "ssl.keystore.key"} {
		if v, _, ok := get(k); ok && strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}

// keystore reads the listener's certificate chain and private key, inline
// (ssl.keystore.certificate.chain and ssl.keystore.key, PEM) or from the
// file ssl.keystore.location in the format of ssl.keystore.type.
func keystore(get Lookup) (tls.Certificate, error) {
	typ, err := storeType(get, "ssl.keystore.type")
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPW, hasKeyPW := password(get, "ssl.key.password")
	chain, chainFrom, okChain := get("ssl.keystore.certificate.chain")
	key, keyFrom, okKey := get("ssl.keystore.key")
	loc, locFrom, okLoc := get("ssl.keystore.location")
	switch {
	case okChain || okKey:
		if !okChain || !okKey {
			return tls.Certificate{}, fmt.Errorf("an inline keystore needs both ssl.keystore.certificate.chain and ssl.keystore.key")
		}
		if okLoc {
			return tls.Certificate{}, fmt.Errorf("%s and %s are both set: use an inline keystore or a keystore file, not both", chainFrom, locFrom)
		}
		if typ != "" && typ != typePEM {
			return tls.Certificate{}, fmt.Errorf("an inline keystore (%s) is PEM: set ssl.keystore.type=PEM, not %s", chainFrom, typ)
		}
		cert, err := parseKeyPair([]byte(chain+"\n"+key), keyPW, hasKeyPW)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("%s and %s: %w", chainFrom, keyFrom, err)
		}
		return cert, nil
	case okLoc && strings.TrimSpace(loc) != "":
		b, err := os.ReadFile(loc)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("%s: %w", locFrom, err)
		}
		from := locFrom + "=" + loc
		format, err := fileFormat(typ, b)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("%s: %w", from, err)
		}
		storePW, hasStorePW := password(get, "ssl.keystore.password")
		var cert tls.Certificate
		switch format {
		case typePEM:
			cert, err = parseKeyPair(b, keyPW, hasKeyPW)
		case typePKCS12:
			cert, err = pkcs12KeyPair(b, storePW)
		case typeJKS:
			// As Kafka's KeyManagerFactory.init: the key entry's own
			// password is ssl.key.password, else the store's.
			if !hasKeyPW {
				keyPW = storePW
			}
			if !hasStorePW {
				err = fmt.Errorf("a JKS keystore needs ssl.keystore.password")
			} else {
				cert, err = jksKeyPair(b, storePW, keyPW)
			}
		}
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("%s (%s): %w", from, format, err)
		}
		return cert, nil
	}
	return tls.Certificate{}, fmt.Errorf("no keystore: set ssl.keystore.location (JKS, PKCS12 or PEM file) or ssl.keystore.certificate.chain and ssl.keystore.key, globally or as listener.name.<listener>.ssl.*")
}

// truststore reads the CA certificates client certificates are verified
// against: ssl.truststore.certificates inline (PEM) or the file
// ssl.truststore.location in the format of ssl.truststore.type. nil
// (neither set): the system roots, as Kafka falls back to the JVM's.
func truststore(get Lookup) (*x509.CertPool, error) {
	typ, err := storeType(get, "ssl.truststore.type")
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	if v, from, ok := get("ssl.truststore.certificates"); ok && strings.TrimSpace(v) != "" {
		if typ != "" && typ != typePEM {
			return nil, fmt.Errorf("inline trust certificates (%s) are PEM: set ssl.truststore.type=PEM, not %s", from, typ)
		}
		if certs, err = parseCerts([]byte(v)); err != nil {
			return nil, fmt.Errorf("%s: %w", from, err)
		}
	} else if loc, f, ok := get("ssl.truststore.location"); ok && strings.TrimSpace(loc) != "" {
		b, err := os.ReadFile(loc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		from := f + "=" + loc
		format, err := fileFormat(typ, b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", from, err)
		}
		pw, hasPW := password(get, "ssl.truststore.password")
		switch format {
		case typePEM:
			certs, err = parseCerts(b)
		case typePKCS12:
			certs, err = pkcs12Trusted(b, pw)
		case typeJKS:
			if !hasPW {
				// The JVM loads a JKS truststore without a password,
				// unchecked; the library always checks the store's digest.
				err = fmt.Errorf("a JKS truststore needs ssl.truststore.password")
			} else {
				certs, err = jksTrusted(b, pw)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", from, format, err)
		}
	} else {
		return nil, nil
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a certificate for subject and its key, in PEM.
func selfSigned(t *testing.T, subject pkix.Name) (*x509.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: subject, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func props(m map[string]string) Lookup {
	return func(key string) (string, string, bool) { v, ok := m[key]; return v, key, ok }
}

// TestDN: the subject prints as the JVM's X500Principal.getName(): most
// specific first, RFC 2253 escaping, DC and UID by keyword, other types
// as OID=#hex.
func TestDN(t *testing.T) {
	dc := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	email := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	for _, tc := range []struct {
		name pkix.Name
		want string
	}{
		{pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"acme"}, Country: []string{"US"}}, "CN=alice,OU=eng,O=acme,C=US"},
		{pkix.Name{CommonName: "Smith, John+x", Organization: []string{" lead#"}}, `CN=Smith\, John\+x,O=\ lead#`},
		{pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{{Type: dc, Value: "com"}, {Type: dc, Value: "acme"}, {Type: email, Value: "a@b"}}}, ""},
	} {
		cert, _, _ := selfSigned(t, tc.name)
		got, err := DN(cert)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			// ExtraNames go in one RDN each, in order: printed reversed.
			tc.want = "1.2.840.113549.1.9.1=#0c03614062,DC=acme,DC=com"
		}
		if got != tc.want {
			t.Errorf("DN of %v = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestMappingRules: Kafka's documented rule examples.
func TestMappingRules(t *testing.T) {
	m, err := ParseRules(`RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT`)
	if err != nil {
		t.Fatal(err)
	}
	for dn, want := range map[string]string{
		"CN=kafka-server1,OU=ServiceUsers,O=Org,C=US": "kafka-server1",
		"CN=Duke,OU=JavaSoft,O=Sun,L=Sa,ST=Ca,C=US":   "duke@javasoft",
		"OU=x,cn=Admin.User,O=y":                      "admin.user",
		"O=only":                                      "O=only",
	} {
		if got, err := m.Map(dn); err != nil || got != want {
			t.Errorf("Map(%q) = %q, %v; want %q", dn, got, err, want)
		}
	}
	strict, err := ParseRules(`RULE:^CN=(.*?),OU=.*$/$1/U`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := strict.Map("CN=a,OU=b"); got != "A" || err != nil {
		t.Errorf("upper: %q %v", got, err)
	}
	if _, err := strict.Map("O=x"); err == nil {
		t.Error("a DN no rule matches was mapped")
	}
	for _, bad := range []string{"RULE:^CN=(.*$/$1/", "NOPE", "RULE:a/b"} {
		if _, err := ParseRules(bad); err == nil {
			t.Errorf("rules %q accepted", bad)
		}
	}
}

// TestServerConfig: the keys Kafka users set build the expected tls.Config,
// and what Sluice cannot read is refused with the key to fix.
func TestServerConfig(t *testing.T) {
	_, cert, key := selfSigned(t, pkix.Name{CommonName: "b"})
	base := func() map[string]string {
		return map[string]string{"ssl.keystore.certificate.chain": cert, "ssl.keystore.key": key}
	}
	m := base()
	m["ssl.client.auth"], m["ssl.truststore.certificates"], m["ssl.protocol"] = "requested", cert, "TLSv1.2"
	cfg, err := Server(props(m))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.VerifyClientCertIfGiven || cfg.ClientCAs == nil || cfg.MinVersion != tls.VersionTLS12 || cfg.MaxVersion != tls.VersionTLS12 {
		t.Errorf("config %+v", cfg)
	}
	m = base()
	m["ssl.cipher.suites"] = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256"
	if cfg, err := Server(props(m)); err != nil || len(cfg.CipherSuites) != 1 || cfg.MaxVersion != tls.VersionTLS13 {
		t.Errorf("cipher suites: %v %+v", err, cfg)
	}
	encrypted := string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}))
	for name, change := range map[string]func(m map[string]string){
		"none":         func(m map[string]string) { delete(m, "ssl.keystore.key"); delete(m, "ssl.keystore.certificate.chain") },
		"half inline":  func(m map[string]string) { delete(m, "ssl.keystore.key") },
		"encrypted":    func(m map[string]string) { m["ssl.keystore.key"] = encrypted },
		"jks":          func(m map[string]string) { m["ssl.keystore.type"] = "JKS" },
		"client.auth":  func(m map[string]string) { m["ssl.client.auth"] = "maybe" },
		"protocols":    func(m map[string]string) { m["ssl.enabled.protocols"] = "SSLv3" },
		"no overlap":   func(m map[string]string) { m["ssl.enabled.protocols"], m["ssl.protocol"] = "TLSv1.3", "TLSv1.2" },
		"missing file": func(m map[string]string) { m["ssl.truststore.location"] = "/nonexistent/ca.pem" },
		"cipher":       func(m map[string]string) { m["ssl.cipher.suites"] = "TLS_NOPE" },
	} {
		m := base()
		change(m)
		if _, err := Server(props(m)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if name == "encrypted" && !strings.Contains(err.Error(), "encrypted") {
			t.Errorf("encrypted key: %v", err)
		}
	}
}

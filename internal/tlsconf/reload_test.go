package tlsconf

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// TestReloadingFollowsFiles: a changed keystore file is served after a
// reload; a broken one keeps the previous certificate and is logged once;
// handshakes (GetConfigForClient) pick a change up by themselves.
func TestReloadingFollowsFiles(t *testing.T) {
	path := writeFile(t, "ks.p12", newPair(t, "broker", 1).pkcs12(t, "pw"))
	m := map[string]string{"ssl.keystore.type": "PKCS12", "ssl.keystore.location": path, "ssl.keystore.password": "pw"}
	var logs bytes.Buffer
	r, err := NewReloading(props(m), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	write := func(b []byte) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if r.Reload() || served(t, r.Current()) != 1 {
		t.Fatalf("unchanged store reloaded or serial %d", served(t, r.Current()))
	}
	write(newPair(t, "broker", 2).pkcs12(t, "pw"))
	if !r.Reload() || served(t, r.Current()) != 2 {
		t.Fatalf("changed store: serial %d, want 2", served(t, r.Current()))
	}
	write([]byte("broken"))
	if r.Reload() || r.Reload() || served(t, r.Current()) != 2 {
		t.Fatalf("broken store: serial %d, want the previous 2", served(t, r.Current()))
	}
	if n := strings.Count(logs.String(), "TLS reload failed"); n != 1 {
		t.Fatalf("%d failure log lines, want 1:\n%s", n, logs.String())
	}
	// A changed password with the store it opens (as an AlterConfigs of
	// both would) is followed too.
	m["ssl.keystore.password"] = "pw3"
	write(newPair(t, "broker", 3).pkcs12(t, "pw3"))
	if !r.Reload() || served(t, r.Current()) != 3 {
		t.Fatalf("new store and password: serial %d, want 3", served(t, r.Current()))
	}

	hello := r.Config().GetConfigForClient
	write(newPair(t, "broker", 4).pkcs12(t, "pw3"))
	deadline := time.Now().Add(10 * ReloadInterval)
	for {
		cfg, err := hello(nil)
		if err != nil {
			t.Fatal(err)
		}
		if served(t, cfg) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handshakes still get serial %d", served(t, cfg))
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}

// TestReloadingRefusesIdentityChange: a new keystore whose certificate
// has another subject DN, or other SANs, is not served unless
// ssl.allow.dn.changes / ssl.allow.san.changes is true, as Kafka checks a
// dynamic keystore update.
func TestReloadingRefusesIdentityChange(t *testing.T) {
	path := writeFile(t, "ks.p12", newPair(t, "broker", 1).pkcs12(t, "pw"))
	m := map[string]string{"ssl.keystore.location": path, "ssl.keystore.password": "pw"}
	var logs bytes.Buffer
	r, err := NewReloading(props(m), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	other := newPair(t, "other", 2)
	if err := os.WriteFile(path, other.pkcs12(t, "pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r.Reload() || served(t, r.Current()) != 1 || !strings.Contains(logs.String(), "Keystore DistinguishedName does not match") {
		t.Fatalf("another DN was served (serial %d) or not logged:\n%s", served(t, r.Current()), logs.String())
	}
	if err := r.Validate(props(m)); err == nil || !strings.Contains(err.Error(), "ssl.allow.dn.changes") {
		t.Fatalf("Validate of another DN: %v", err)
	}
	m["ssl.allow.dn.changes"] = "true"
	if !r.Reload() || served(t, r.Current()) != 2 {
		t.Fatalf("with ssl.allow.dn.changes=true: serial %d, want 2", served(t, r.Current()))
	}
	withSAN := newPair(t, "other", 3, "broker.example")
	if err := compatible(props(m), r.Current(), &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{withSAN.cert.Raw}}}}); err == nil ||
		!strings.Contains(err.Error(), "SubjectAltNames do not match") {
		t.Fatalf("other SANs: %v", err)
	}
}

// TestReloadingFollowsTruststore: a truststore file replaced by one with
// another CA is what new connections verify client certificates against.
func TestReloadingFollowsTruststore(t *testing.T) {
	oldCA, newCA := newPair(t, "old-ca", 10), newPair(t, "new-ca", 11)
	trust := writeFile(t, "trust.jks", jksTruststore(t, "pw", oldCA.cert))
	m := map[string]string{"ssl.keystore.location": writeFile(t, "ks.p12", newPair(t, "broker", 1).pkcs12(t, "pw")),
		"ssl.keystore.password": "pw", "ssl.truststore.location": trust, "ssl.truststore.password": "pw", "ssl.client.auth": "required"}
	r, err := NewReloading(props(m), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Current().ClientCAs.Equal(poolOf(oldCA.cert)) {
		t.Fatal("the first truststore is not in force")
	}
	if err := os.WriteFile(trust, jksTruststore(t, "pw", newCA.cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if !r.Reload() || !r.Current().ClientCAs.Equal(poolOf(newCA.cert)) {
		t.Fatal("the new truststore is not in force after a reload")
	}
}

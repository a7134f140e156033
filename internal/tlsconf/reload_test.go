package tlsconf

import (
	"bytes"
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

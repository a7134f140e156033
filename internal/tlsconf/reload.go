package tlsconf

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ReloadInterval is the least time between two looks at a listener's store
// files: a new connection after it re-reads them.
const ReloadInterval = time.Second

// reloadKeys are the configs a listener's TLS configuration is built from;
// a change of any of them, or of a store file's content, rebuilds it.
var reloadKeys = []string{
	"ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.password", "ssl.key.password",
	"ssl.keystore.certificate.chain", "ssl.keystore.key", "ssl.truststore.type",
	"ssl.truststore.location", "ssl.truststore.password", "ssl.truststore.certificates",
	"ssl.client.auth", "ssl.enabled.protocols", "ssl.protocol", "ssl.cipher.suites",
	"ssl.allow.dn.changes", "ssl.allow.san.changes",
}

// Reloading is a listener's TLS configuration that follows its configs
// and store files without a restart. Every handshake takes the current
// configuration (GetConfigForClient); connections already made keep the
// one they were made with. A rebuild that fails keeps the previous
// configuration and is logged once per failing content.
type Reloading struct {
	get Lookup
	log *slog.Logger
	cur atomic.Pointer[tls.Config]

	mu      sync.Mutex // guards the fields below and serialises rebuilds
	fp      []byte     // fingerprint cur was built from
	failed  []byte     // fingerprint of the last failed rebuild
	checked time.Time  // last look at the files
}

// NewReloading builds a listener's TLS configuration from get, which must
// read the listener's current configs on every call. The error of the
// first build stops the broker at start.
func NewReloading(get Lookup, log *slog.Logger) (*Reloading, error) {
	r := &Reloading{get: get, log: log}
	fp := fingerprint(r.get)
	cfg, err := Server(get)
	if err != nil {
		return nil, err
	}
	r.cur.Store(cfg)
	r.fp, r.checked = fp, time.Now()
	return r, nil
}

// Config is what the listener's connections are wrapped with: it hands
// each handshake the current configuration, after a look at the store
// files when ReloadInterval has passed since the last one.
func (r *Reloading) Config() *tls.Config {
	return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		r.reload(false)
		return r.cur.Load(), nil
	}}
}

// Current is the configuration new connections get now.
func (r *Reloading) Current() *tls.Config { return r.cur.Load() }

// Reload rebuilds the configuration if its configs or store files changed
// since the last build (or failed rebuild) and reports whether it did.
func (r *Reloading) Reload() bool { return r.reload(true) }

// reload is Reload; unless forced, only when ReloadInterval has passed
// since the last look, so handshakes read the files at most once a second.
func (r *Reloading) reload(force bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !force && time.Since(r.checked) < ReloadInterval {
		return false
	}
	r.checked = time.Now()
	fp := fingerprint(r.get)
	if bytes.Equal(fp, r.fp) || bytes.Equal(fp, r.failed) {
		return false
	}
	cfg, err := Server(r.get)
	if err == nil {
		err = compatible(r.get, r.cur.Load(), cfg)
	}
	if err != nil {
		r.failed = fp
		r.log.Error("TLS reload failed: new connections keep the previous keystore and truststore", "err", err)
		return false
	}
	r.cur.Store(cfg)
	r.fp, r.failed = fp, nil
	r.log.Info("TLS keystore and truststore reloaded")
	return true
}

// fingerprint hashes the configs and the store files' contents; a file
// that cannot be read hashes as its error, so it fails once and a later
// fix is seen.
func fingerprint(get Lookup) []byte {
	h := sha256.New()
	for _, k := range reloadKeys {
		v, from, ok := get(k)
		if !ok {
			continue
		}
		h.Write([]byte(from + "\x00" + v + "\x00"))
		if k == "ssl.keystore.location" || k == "ssl.truststore.location" {
			b, err := os.ReadFile(v)
			if err != nil {
				b = []byte(err.Error())
			}
			h.Write(b)
			h.Write([]byte{0})
		}
	}
	return h.Sum(nil)
}

// ConfigKeys are the ssl.* configs a listener's TLS configuration is
// built from (the ones a reload follows).
func ConfigKeys() []string { return append([]string(nil), reloadKeys...) }

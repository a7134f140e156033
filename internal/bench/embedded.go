package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
)

// startSluice runs a Sluice broker in this process on dir, listening on an
// ephemeral loopback port. With noSync the broker leaves flushing to the
// OS, as Kafka does by default; otherwise it keeps Sluice's default of
// fsyncing before it acknowledges. With useTLS the seeds are an SSL
// listener with a throwaway certificate, and opts are what a client needs
// to trust it.
func startSluice(dir string, noSync, useTLS bool, logTo io.Writer) (seeds []string, opts []kgo.Opt, stop func() error, err error) {
	props := map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0",
		"log.dirs":  dir,
	}
	if noSync {
		props["log.flush.interval.messages"] = strconv.FormatInt(math.MaxInt64, 10)
	}
	var clientTLS *tls.Config
	if useTLS {
		certPEM, keyPEM, pool, err := selfSigned()
		if err != nil {
			return nil, nil, nil, err
		}
		// PLAINTEXT stays first: it carries inter-broker traffic, which
		// may not be TLS yet. Clients use only the SSL listener.
		props["listeners"] = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0"
		props["listener.name.ssl.ssl.keystore.type"] = "PEM"
		props["listener.name.ssl.ssl.keystore.certificate.chain"] = string(certPEM)
		props["listener.name.ssl.ssl.keystore.key"] = string(keyPEM)
		clientTLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	}
	cfg, err := config.Build(props)
	if err != nil {
		return nil, nil, nil, err
	}
	if logTo == nil {
		logTo = io.Discard
	}
	logger := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b := broker.New(cfg, logger)
	if err := b.Start(); err != nil {
		return nil, nil, nil, err
	}
	if useTLS {
		return []string{b.ListenerAddr("SSL")}, []kgo.Opt{kgo.DialTLSConfig(clientTLS)}, b.Close, nil
	}
	return []string{b.Addr()}, nil, b.Close, nil
}

// selfSigned makes a P-256 certificate for 127.0.0.1 valid for a day, in
// PEM, and a pool that trusts it.
func selfSigned() (certPEM, keyPEM []byte, pool *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sluice-bench"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), pool, nil
}

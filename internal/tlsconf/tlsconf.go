// Package tlsconf builds a listener's crypto/tls server configuration from
// Kafka's ssl.* properties, and maps a client certificate to a principal
// (principal.go).
package tlsconf

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// Lookup returns the value of an ssl.* property for one listener and the
// key it came from (listener.name.<name>.<key> before <key>); ok is false
// when neither is set.
type Lookup func(key string) (value, from string, ok bool)

// Server returns the TLS configuration of a listener.
func Server(get Lookup) (*tls.Config, error) {
	cfg := &tls.Config{}
	cert, err := keystore(get)
	if err != nil {
		return nil, err
	}
	cfg.Certificates = []tls.Certificate{cert}
	if cfg.ClientCAs, err = truststore(get); err != nil {
		return nil, err
	}
	if cfg.ClientAuth, err = clientAuth(get); err != nil {
		return nil, err
	}
	if cfg.MinVersion, cfg.MaxVersion, err = versions(get); err != nil {
		return nil, err
	}
	if cfg.CipherSuites, err = cipherSuites(get); err != nil {
		return nil, err
	}
	return cfg, nil
}

// clientAuth is ssl.client.auth: none (default), requested (a certificate
// given is verified) or required.
func clientAuth(get Lookup) (tls.ClientAuthType, error) {
	v, from, ok := get("ssl.client.auth")
	if !ok {
		return tls.NoClientCert, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "none":
		return tls.NoClientCert, nil
	case "requested":
		return tls.VerifyClientCertIfGiven, nil
	case "required":
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf("%s=%s: must be none, requested or required", from, v)
}

var protocolVersions = map[string]uint16{
	"TLSV1": tls.VersionTLS10, "TLSV1.1": tls.VersionTLS11, "TLSV1.2": tls.VersionTLS12, "TLSV1.3": tls.VersionTLS13,
}

// versions turns ssl.enabled.protocols (default TLSv1.2,TLSv1.3) into a
// version range, capped by ssl.protocol (default TLSv1.3) as a JVM
// SSLContext of that protocol is. Go takes a range, so a list with a gap
// (TLSv1,TLSv1.3) enables the versions in between too.
func versions(get Lookup) (lo, hi uint16, err error) {
	list, from, ok := get("ssl.enabled.protocols")
	if !ok || strings.TrimSpace(list) == "" {
		list, from = "TLSv1.2,TLSv1.3", "ssl.enabled.protocols"
	}
	var vs []uint16
	for _, p := range strings.Split(list, ",") {
		v, known := protocolVersions[strings.ToUpper(strings.TrimSpace(p))]
		if !known {
			return 0, 0, fmt.Errorf("%s=%s: unknown protocol %q (TLSv1.2, TLSv1.3)", from, list, strings.TrimSpace(p))
		}
		vs = append(vs, v)
	}
	lo, hi = slices.Min(vs), slices.Max(vs)
	if p, pfrom, ok := get("ssl.protocol"); ok && strings.TrimSpace(p) != "" && !strings.EqualFold(strings.TrimSpace(p), "TLS") {
		v, known := protocolVersions[strings.ToUpper(strings.TrimSpace(p))]
		if !known {
			return 0, 0, fmt.Errorf("%s=%s: unknown protocol (TLSv1.2, TLSv1.3 or TLS)", pfrom, p)
		}
		hi = min(hi, v)
		if hi < lo {
			return 0, 0, fmt.Errorf("%s=%s enables none of %s=%s", pfrom, p, from, list)
		}
	}
	return lo, hi, nil
}

// cipherSuites is ssl.cipher.suites by IANA name (as the JVM names them);
// unset: Go's defaults. TLS 1.3 suites are not configurable in Go.
func cipherSuites(get Lookup) ([]uint16, error) {
	list, from, ok := get("ssl.cipher.suites")
	if !ok || strings.TrimSpace(list) == "" {
		return nil, nil
	}
	byName := map[string]uint16{}
	for _, s := range tls.CipherSuites() {
		byName[s.Name] = s.ID
	}
	var out []uint16
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if strings.HasPrefix(n, "TLS_AES_") || strings.HasPrefix(n, "TLS_CHACHA20_") {
			continue // TLS 1.3 suites: always enabled in Go
		}
		id, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("%s: unknown or insecure cipher suite %q", from, n)
		}
		out = append(out, id)
	}
	return out, nil
}

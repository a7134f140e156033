package main

// Turning resolved client keys (clientsec.go) into franz-go's TLS and
// SASL options.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/tlsconf"
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

// clientTLS builds the TLS configuration with internal/tlsconf, which
// reads the stores (PEM, PKCS12, JKS, encrypted PEM keys) and the TLS
// versions and cipher suites as a broker's listener does: the truststore
// (else the system's roots), an optional client certificate, and host
// name verification unless ssl.endpoint.identification.algorithm is empty.
func clientTLS(s map[string]secSetting) (*tls.Config, error) {
	get, err := tlsLookup(s)
	if err != nil {
		return nil, err
	}
	cc, err := tlsconf.ToolClient(get)
	if err != nil {
		return nil, err
	}
	return cc.Config(), nil
}

// tlsLookup presents the resolved ssl.* keys to tlsconf, each named by
// where it came from. librdkafka's file keys stand for Kafka's:
// ssl.ca.location for ssl.truststore.location, and the contents of
// ssl.certificate.location and ssl.key.location for an inline PEM
// keystore. An empty value is unset, except that an empty
// ssl.endpoint.identification.algorithm turns host name checks off.
func tlsLookup(s map[string]secSetting) (tlsconf.Lookup, error) {
	keys := map[string]secSetting{}
	for k, v := range s {
		if strings.HasPrefix(k, "ssl.") && (v.value != "" || k == "ssl.endpoint.identification.algorithm") {
			keys[k] = secSetting{v.value, settingName(k, v)}
		}
	}
	if _, ok := keys["ssl.truststore.location"]; !ok {
		if v, ok := keys["ssl.ca.location"]; ok {
			keys["ssl.truststore.location"] = v
		}
	}
	cert, hasCert := keys["ssl.certificate.location"]
	key, hasKey := keys["ssl.key.location"]
	if hasCert || hasKey {
		if !hasCert || !hasKey {
			return nil, errors.New("a client certificate needs both --ssl-cert (ssl.certificate.location) and --ssl-key (ssl.key.location)")
		}
		for _, f := range []struct {
			in     secSetting
			inline string
		}{{cert, "ssl.keystore.certificate.chain"}, {key, "ssl.keystore.key"}} {
			b, err := os.ReadFile(f.in.value)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.in.from, err)
			}
			keys[f.inline] = secSetting{string(b), f.in.from + " (" + f.in.value + ")"}
		}
	}
	return func(k string) (string, string, bool) {
		v, ok := keys[k]
		return v.value, v.from, ok
	}, nil
}

// settingName names a resolved key in messages: the flag or environment
// variable that set it, else the file and the key.
func settingName(key string, v secSetting) string {
	if strings.HasPrefix(v.from, "--") || strings.HasPrefix(v.from, "$") {
		return v.from
	}
	return v.from + ": " + key
}

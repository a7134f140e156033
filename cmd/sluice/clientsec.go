package main

// Security options of client commands, the way Kafka's tools take them:
// a client.properties file (--command-config) with Kafka's client keys,
// SLUICE_<KEY> environment variables, and short flags. Each short flag and
// each environment variable stands for one client key, so the three
// sources merge key by key with flags over environment over file.

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/config"
)

// commandConfigEnv names the environment variable that stands for
// --command-config.
const commandConfigEnv = "SLUICE_COMMAND_CONFIG"

// secKeys are the client keys the CLI reads. Kafka's names first, then
// the librdkafka spellings the CLI also accepts.
var secKeys = []string{
	"security.protocol",
	"sasl.mechanism",
	"sasl.jaas.config",
	"sasl.username",
	"sasl.password",
	"ssl.truststore.type",
	"ssl.truststore.location",
	"ssl.truststore.certificates",
	"ssl.keystore.type",
	"ssl.keystore.location",
	"ssl.keystore.certificate.chain",
	"ssl.keystore.key",
	"ssl.keystore.password",
	"ssl.key.password",
	"ssl.truststore.password",
	"ssl.endpoint.identification.algorithm",
	"ssl.protocol",
	"ssl.enabled.protocols",
	"ssl.cipher.suites",
	"ssl.ca.location",
	"ssl.certificate.location",
	"ssl.key.location",
}

// secIgnored are client keys a Kafka client.properties often carries that
// pick the JVM's TLS implementations; Go has no such choice, so the CLI
// accepts and ignores them rather than refusing a file that works with
// Kafka's tools.
var secIgnored = []string{
	"ssl.keymanager.algorithm",
	"ssl.trustmanager.algorithm",
	"ssl.secure.random.implementation",
}

// secFlag is a short flag and the client key it sets.
type secFlag struct {
	name, key, usage string
}

var secFlags = []secFlag{
	{"security-protocol", "security.protocol", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (security.protocol)"},
	{"sasl-mechanism", "sasl.mechanism", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (sasl.mechanism)"},
	{"sasl-user", "sasl.username", "SASL user name (sasl.username)"},
	{"sasl-password", "sasl.password", "SASL password (sasl.password); prefer $SLUICE_SASL_PASSWORD or a file"},
	{"ssl-ca", "ssl.truststore.location", "CA certificates to trust: a PEM, PKCS12 or JKS file (ssl.truststore.location; a store's password from $SLUICE_SSL_TRUSTSTORE_PASSWORD); default the system's"},
	{"ssl-cert", "ssl.certificate.location", "PEM file of the client certificate chain, for mutual TLS (ssl.certificate.location)"},
	{"ssl-key", "ssl.key.location", "PEM file of the client certificate's private key, encrypted PKCS#8 with $SLUICE_SSL_KEY_PASSWORD (ssl.key.location)"},
}

// securityFlags holds the security options of one command.
type securityFlags struct {
	commandConfig  string
	flags          map[string]*string // key -> short flag value
	set            *pflag.FlagSet
	noHostnameFlag bool
}

// addSecurityFlags registers --command-config and the short security flags
// on f.
func addSecurityFlags(f *pflag.FlagSet) *securityFlags {
	sf := &securityFlags{flags: map[string]*string{}, set: f}
	f.StringVar(&sf.commandConfig, "command-config", "", "client `properties` file with Kafka's client keys: security.protocol, sasl.*, ssl.* (else $"+commandConfigEnv+")")
	for _, fl := range secFlags {
		sf.flags[fl.key] = f.String(fl.name, "", fl.usage)
	}
	f.BoolVar(&sf.noHostnameFlag, "ssl-no-hostname-verification", false, "trust the certificate chain without checking the broker's host name (ssl.endpoint.identification.algorithm empty)")
	return sf
}

// envName is the environment variable standing for a client key:
// SLUICE_ and the key upper-cased with dots as underscores.
func envName(key string) string {
	return "SLUICE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// secSetting is a resolved key and where it came from, for error messages.
type secSetting struct {
	value, from string
}

// resolve merges file, environment and flags into the client keys.
func (sf *securityFlags) resolve() (map[string]secSetting, error) {
	out := map[string]secSetting{}
	path := sf.commandConfig
	if !sf.set.Changed("command-config") {
		path = os.Getenv(commandConfigEnv)
	}
	if path != "" {
		props, err := readClientProperties(path)
		if err != nil {
			return nil, err
		}
		for k, v := range props {
			out[k] = secSetting{strings.TrimSpace(v), path}
		}
	}
	for _, k := range secKeys {
		if v, ok := os.LookupEnv(envName(k)); ok {
			out[k] = secSetting{strings.TrimSpace(v), "$" + envName(k)}
		}
	}
	for _, fl := range secFlags {
		if sf.set.Changed(fl.name) {
			out[fl.key] = secSetting{strings.TrimSpace(*sf.flags[fl.key]), "--" + fl.name}
		}
	}
	if sf.noHostnameFlag {
		out["ssl.endpoint.identification.algorithm"] = secSetting{"", "--ssl-no-hostname-verification"}
	}
	return out, nil
}

// readClientProperties reads a client.properties file and rejects keys the
// CLI does not know among the security ones, so a typo is not silently a
// plaintext connection. Other keys (a producer's acks, say) are ignored as
// Kafka's tools ignore keys a client does not use.
func readClientProperties(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--command-config: %w", err)
	}
	defer f.Close()
	props, err := config.LoadProperties(f)
	if err != nil {
		return nil, fmt.Errorf("--command-config %s: %w", path, err)
	}
	known := map[string]bool{}
	for _, k := range append(secKeys, secIgnored...) {
		known[k] = true
	}
	var unknown []string
	for k := range props {
		if (strings.HasPrefix(k, "ssl.") || strings.HasPrefix(k, "sasl.") || strings.HasPrefix(k, "security.")) && !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("--command-config %s: the CLI does not support %s (it reads %s)", path, strings.Join(unknown, ", "), strings.Join(secKeys, ", "))
	}
	return props, nil
}

// opts are the franz-go options for the resolved security settings: none
// for PLAINTEXT.
func (sf *securityFlags) opts() ([]kgo.Opt, error) {
	s, err := sf.resolve()
	if err != nil {
		return nil, err
	}
	return clientSecurityOpts(s)
}

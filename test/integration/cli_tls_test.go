package integration

import (
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/youmark/pkcs8"
)

// writeFiles writes name -> content into a temporary directory and
// returns the directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cliSecured runs sluice with env and args and stdin, failing t unless
// it exits 0.
func cliSecured(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	r := runSluice(t, args, nil, func(cmd *exec.Cmd) {
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "SLUICE_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, env...)
		cmd.Stdin = strings.NewReader(stdin)
	})
	if r.code != 0 {
		t.Fatalf("sluice %v (env %v): exit %d: %s", args, env, r.code, r.stderr)
	}
	return r.stdout
}

// cliSecuredFails runs sluice and checks it exits non-zero with one line
// on stderr containing want.
func cliSecuredFails(t *testing.T, env []string, want string, args ...string) {
	t.Helper()
	r := runSluice(t, args, nil, func(cmd *exec.Cmd) {
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "SLUICE_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, env...)
	})
	msg := strings.TrimSpace(r.stderr)
	t.Logf("sluice %v: exit %d: %s", args, r.code, msg)
	if r.code == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
		t.Errorf("sluice %v (env %v): exit %d, stderr %q; want non-zero and one line containing %q", args, env, r.code, r.stderr, want)
	}
}

// cliTopicRoundTrip creates a topic, produces three lines and consumes
// them back, all with the same security arguments and environment.
func cliTopicRoundTrip(t *testing.T, tag string, env []string, sec ...string) {
	t.Helper()
	topic := topicName(t, tag)
	with := func(args ...string) []string { return append(args, sec...) }
	if out := cliSecured(t, env, "", with("topic", "create", topic, "-p", "1")...); !strings.Contains(out, topic) {
		t.Fatalf("topic create: %q", out)
	}
	if out := cliSecured(t, env, "one\ntwo\nthree\n", with("produce", topic)...); !strings.HasPrefix(out, "Produced 3 records") {
		t.Fatalf("produce: %q", out)
	}
	if out := cliSecured(t, env, "", with("consume", topic, "--from", "beginning", "-n", "3")...); out != "one\ntwo\nthree\n" {
		t.Fatalf("consume: %q", out)
	}
}

// TestCLISASLSSLScram: the CLI with a Kafka client.properties
// (SASL_SSL, SCRAM-SHA-512 through ScramLoginModule's JAAS line, a PEM
// truststore) creates a topic, produces and consumes; a wrong password
// from the environment beats the file and fails clearly, and a flag beats
// the environment.
func TestCLISASLSSLScram(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca)
	up := kadm.UpsertSCRAM{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "carol-512"}
	if res, err := newAdmin(t, tb.Addr()).AlterUserSCRAMs(testCtx(t, 15*time.Second), nil, []kadm.UpsertSCRAM{up}); err != nil || res.Error() != nil {
		t.Fatalf("AlterUserSCRAMs: %v %v", err, res)
	}
	dir := writeFiles(t, map[string]string{"ca.pem": string(ca.pem)})
	props := strings.Join([]string{
		"security.protocol=SASL_SSL",
		"sasl.mechanism=SCRAM-SHA-512",
		`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \`,
		`    username="carol" password="carol-512";`,
		"ssl.truststore.type=PEM",
		"ssl.truststore.location=" + filepath.Join(dir, "ca.pem"),
		"ssl.enabled.protocols=TLSv1.2,TLSv1.3", // read as a listener reads it
		"acks=all",                              // a producer key, ignored as Kafka's tools do
	}, "\n")
	file := filepath.Join(writeFiles(t, map[string]string{"client.properties": props}), "client.properties")
	addr := tb.ListenerAddr("SASL_SSL")

	cliTopicRoundTrip(t, "r1", nil, "--brokers", addr, "--command-config", file)
	// The same file named by the environment, brokers too.
	cliTopicRoundTrip(t, "r2", []string{"SLUICE_COMMAND_CONFIG=" + file, "SLUICE_BROKERS=" + addr})

	wrongEnv := []string{"SLUICE_COMMAND_CONFIG=" + file, "SLUICE_SASL_PASSWORD=wrong"}
	cliSecuredFails(t, wrongEnv, "SASL", "topic", "list", "--brokers", addr, "--timeout", "10s")
	cliSecuredFails(t, wrongEnv, "SASL", "produce", "x", "--brokers", addr, "--timeout", "10s")
	cliSecured(t, wrongEnv, "", "topic", "list", "--brokers", addr, "--sasl-password", "carol-512")

	// PLAIN through the short flags alone.
	cliTopicRoundTrip(t, "r3", nil, "--brokers", addr, "--security-protocol", "SASL_SSL", "--ssl-ca", filepath.Join(dir, "ca.pem"),
		"--sasl-mechanism", "PLAIN", "--sasl-user", "alice", "--sasl-password", "alice-pw")

	// Plaintext to the TLS port, or SASL without the protocol, say why.
	cliSecuredFails(t, nil, "--security-protocol SASL_PLAINTEXT", "topic", "list", "--brokers", addr, "--sasl-mechanism", "PLAIN")
	cliSecuredFails(t, nil, "no such file", "topic", "list", "--brokers", addr, "--command-config", filepath.Join(dir, "missing.properties"))
}

// TestCLISSLClientCert: against an SSL listener that requires client
// certificates, the CLI with --ssl-ca, --ssl-cert and --ssl-key creates a
// topic, produces and consumes, and the same through Kafka's PEM keystore
// keys in a file; without a certificate it fails non-zero, and a bad CA
// file is named.
func TestCLISSLClientCert(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca, withProp("listener.name.ssl.ssl.client.auth", "required"))
	cert, key := ca.issue(t, pkix.Name{CommonName: "cli"}, false)
	dir := writeFiles(t, map[string]string{
		"ca.pem": string(ca.pem), "client.pem": string(cert), "client.key": string(key),
		"keystore.pem": string(cert) + string(key), "bad-ca.pem": "not a certificate\n",
	})
	addr := tb.ListenerAddr("SSL")
	at := func(name string) string { return filepath.Join(dir, name) }

	cliTopicRoundTrip(t, "r4", nil, "--brokers", addr, "--security-protocol", "SSL",
		"--ssl-ca", at("ca.pem"), "--ssl-cert", at("client.pem"), "--ssl-key", at("client.key"))

	props := "security.protocol=SSL\nssl.truststore.location=" + at("ca.pem") +
		"\nssl.keystore.type=PEM\nssl.keystore.location=" + at("keystore.pem") + "\n"
	file := filepath.Join(writeFiles(t, map[string]string{"client.properties": props}), "client.properties")
	cliTopicRoundTrip(t, "r5", []string{"SLUICE_BROKERS=" + addr, "SLUICE_COMMAND_CONFIG=" + file})

	cliSecuredFails(t, nil, "connect", "produce", "x", "--brokers", addr, "--security-protocol", "SSL", "--ssl-ca", at("ca.pem"), "--timeout", "10s")
	cliSecuredFails(t, nil, "bad-ca.pem", "topic", "list", "--brokers", addr, "--security-protocol", "SSL", "--ssl-ca", at("bad-ca.pem"))
	cliSecuredFails(t, nil, "does not support ssl.trustore.location", "topic", "list", "--brokers", addr,
		"--command-config", writeFiles(t, map[string]string{"p": "security.protocol=SSL\nssl.trustore.location=" + at("ca.pem") + "\n"})+"/p")
	cliSecuredFails(t, nil, "set the type to PEM", "topic", "list", "--brokers", addr, "--security-protocol", "SSL", "--ssl-ca", at("ca.pem"),
		"--command-config", writeFiles(t, map[string]string{"p": "ssl.truststore.type=JKS\n"})+"/p")
}

// TestCLIStores: the CLI reads a Kafka client.properties with a PKCS12
// truststore and a JKS keystore (store and key passwords), a JKS
// truststore and a PKCS12 keystore, and an encrypted PEM key from the
// short flags with its password from the environment, against a listener
// that requires client certificates; wrong or missing passwords fail
// before connecting, naming the key.
func TestCLIStores(t *testing.T) {
	t.Parallel()
	ca, addr, cl := startMTLSBroker(t)
	encDER, err := pkcs8.MarshalPrivateKey(cl.key, []byte("pem-key-pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	at := func(name string, b []byte) string { return storeFile(t, dir, name, b) }
	trustP12 := at("trust.p12", ca.pkcs12Truststore(t, "trust-pw"))
	trustJKS := at("trust.jks", ca.jksTruststore(t, "trust-pw"))
	keyJKS := at("client.jks", cl.jks(t, "store-pw", "key-pw"))
	keyP12 := at("client.p12", cl.pkcs12(t, "store-pw"))
	certPEM := at("client.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cl.cert.Raw}))
	encKey := at("client.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: encDER}))
	props := func(name string, lines ...string) string {
		return at(name, []byte("security.protocol=SSL\n"+strings.Join(lines, "\n")+"\n"))
	}

	p12jks := props("p12jks.properties", "ssl.truststore.type=PKCS12", "ssl.truststore.location="+trustP12, "ssl.truststore.password=trust-pw",
		"ssl.keystore.type=JKS", "ssl.keystore.location="+keyJKS, "ssl.keystore.password=store-pw", "ssl.key.password=key-pw")
	cliTopicRoundTrip(t, "p12jks", nil, "--brokers", addr, "--command-config", p12jks)

	jksp12 := props("jksp12.properties", "ssl.truststore.type=JKS", "ssl.truststore.location="+trustJKS, "ssl.truststore.password=trust-pw",
		"ssl.keystore.type=PKCS12", "ssl.keystore.location="+keyP12, "ssl.keystore.password=store-pw")
	cliSecured(t, nil, "", "topic", "list", "--brokers", addr, "--command-config", jksp12)

	// Flags and environment only: a PKCS12 CA file (its type read from
	// the file) and an encrypted PKCS#8 key.
	env := []string{"SLUICE_SSL_TRUSTSTORE_PASSWORD=trust-pw", "SLUICE_SSL_KEY_PASSWORD=pem-key-pw"}
	flags := []string{"--brokers", addr, "--security-protocol", "SSL", "--ssl-ca", trustP12, "--ssl-cert", certPEM, "--ssl-key", encKey}
	cliTopicRoundTrip(t, "enc", env, flags...)

	cliSecuredFails(t, env[:1], "set ssl.key.password", append([]string{"topic", "list"}, flags...)...)
	cliSecuredFails(t, []string{env[0], "SLUICE_SSL_KEY_PASSWORD=wrong"}, "ssl.key.password", append([]string{"topic", "list"}, flags...)...)
	cliSecuredFails(t, []string{"SLUICE_SSL_TRUSTSTORE_PASSWORD=wrong"}, "trust.p12", "topic", "list", "--brokers", addr, "--command-config", p12jks)
	cliSecuredFails(t, []string{"SLUICE_SSL_KEY_PASSWORD=wrong"}, "ssl.key.password", "topic", "list", "--brokers", addr, "--command-config", p12jks)
	cliSecuredFails(t, nil, "needs ssl.truststore.password", "topic", "list", "--brokers", addr, "--security-protocol", "SSL", "--ssl-ca", trustJKS)
}

// TestCLISecuredCommands: the commands beyond topic, produce and consume
// (group, txn, cluster, bench --brokers) take the same client.properties
// against a listener that requires client certificates; without it each
// fails.
func TestCLISecuredCommands(t *testing.T) {
	t.Parallel()
	ca, addr, cl := startMTLSBroker(t)
	dir := t.TempDir()
	file := storeFile(t, dir, "client.properties", []byte(strings.Join([]string{
		"security.protocol=SSL",
		"ssl.truststore.type=PKCS12",
		"ssl.truststore.location=" + storeFile(t, dir, "trust.p12", ca.pkcs12Truststore(t, "trust-pw")),
		"ssl.truststore.password=trust-pw",
		"ssl.keystore.location=" + storeFile(t, dir, "client.p12", cl.pkcs12(t, "store-pw")),
		"ssl.keystore.password=store-pw",
	}, "\n")+"\n"))
	topic := topicName(t, "cmds")
	cliSecured(t, nil, "", "topic", "create", topic, "-p", "1", "--brokers", addr, "--command-config", file)
	for _, args := range [][]string{
		{"group", "list"},
		{"txn", "list"},
		{"cluster", "info"},
	} {
		cliSecured(t, nil, "", append(args, "--brokers", addr, "--command-config", file)...)
		cliSecuredFails(t, nil, "TLS", append(args, "--brokers", addr)...)
	}
	// bench reports a target's failure in its report and goes on to the
	// next target, so the report says whether the run worked.
	bench := []string{"bench", "--records", "200", "--sizes", "100", "--phases", "produce,consume", "--brokers", addr}
	out := cliSecured(t, nil, "", append(bench, "--command-config", file)...)
	if !strings.Contains(out, "| "+addr+" | 100 |") || strings.Contains(out, "error") {
		t.Errorf("bench over TLS: %q", out)
	}
	if out = cliSecured(t, nil, "", bench...); !strings.Contains(out, "error") || !strings.Contains(out, "TLS") {
		t.Errorf("bench in plaintext against the TLS port: %q", out)
	}
}

// startMTLSBroker starts a broker whose SSL listener requires client
// certificates, and returns its CA, that listener's address and a client
// certificate the CA issued.
func startMTLSBroker(t *testing.T) (*testCA, string, issued) {
	t.Helper()
	ca := newTestCA(t, "ca")
	tb := startTLSBroker(t, ca, withProp("listener.name.ssl.ssl.client.auth", "required"))
	return ca, tb.ListenerAddr("SSL"), ca.issueParsedFor(t, "cli", false)
}

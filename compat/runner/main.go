// Command runner is `make compat`: it builds Sluice and the clients' own
// test binaries, runs each suite against a freshly started broker, prints
// one table, and fails on any failure not explained in
// compat/known_failures.txt.
//
// Suites:
//   - kgo: franz-go's pkg/kgo integration tests (KGO_SEEDS at a broker on a
//     free port; KGO_TEST_SCRAM_SEEDS at its SASL_PLAINTEXT listener).
//   - kgo-tls: the same test binary with every test client dialling an SSL
//     listener (KGO_TEST_TLS: the runner's CA and a client certificate the
//     broker requires), with fewer records (tlsRecords), so TLS costs a
//     short second pass.
//   - kafka-go: segmentio/kafka-go's root package tests, which hard-code
//     localhost:9092 (and SASL on 9093), so the runner re-executes itself
//     inside a private network namespace (unshare -n, loopback up) and starts
//     the broker on localhost:9092 and localhost:9093 there.
//   - kcat: compat/kcat.sh (librdkafka through kcat), with its SSL checks
//     against an SSL listener of the same broker.
//
// With -cluster n (make compat-cluster: 3) every suite runs against n
// formatted combined broker+controller nodes instead of one (cluster.go);
// known_failures.txt entries marked cluster:<suite> then apply too.
//
// A test binary that dies (a panic, or its -test.timeout) is run again
// skipping what already finished; the tests that took it down count as
// failures.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

type options struct {
	suites     string
	out        string
	known      string
	repo       string
	kgoRecords int
	timeout    time.Duration
	inner      string // run one suite in this process (used inside unshare -n)
	verbose    bool
	run        string // -test.run for the Go suites (debugging)
	cluster    int    // nodes; 1 is a single node without KRaft settings
}

func main() {
	var o options
	flag.StringVar(&o.suites, "suites", "kgo,kgo-tls,kafka-go,kcat", "comma-separated suites to run")
	flag.StringVar(&o.out, "out", ".out", "work directory: binaries, broker logs, test output")
	flag.StringVar(&o.known, "known", "known_failures.txt", "allow-list of explained failures")
	flag.StringVar(&o.repo, "repo", "..", "the Sluice repository root")
	flag.IntVar(&o.kgoRecords, "kgo-records", envInt("KGO_TEST_RECORDS", 50000), "KGO_TEST_RECORDS for the franz-go suite")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "-test.timeout for each execution of a test binary")
	flag.StringVar(&o.inner, "inner", "", "internal: run this suite here and write its result as JSON")
	flag.BoolVar(&o.verbose, "v", false, "copy test output to stdout as it runs")
	flag.StringVar(&o.run, "run", "", "only the Go suites' tests matching this -test.run pattern (for debugging; counts are then partial)")
	flag.IntVar(&o.cluster, "cluster", 1, "run the suites against a cluster of this many combined broker+controller nodes (1: a single node)")
	flag.Parse()
	if o.cluster < 1 {
		fmt.Fprintln(os.Stderr, "compat: -cluster must be at least 1")
		os.Exit(2)
	}

	ctx, cancel := withSignals(context.Background())
	code := run(ctx, o)
	cancel()
	runCleanups()
	os.Exit(code)
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

func run(ctx context.Context, o options) int {
	var err error
	if o.out, err = filepath.Abs(o.out); err != nil {
		return fatal(err)
	}
	if o.repo, err = filepath.Abs(o.repo); err != nil {
		return fatal(err)
	}
	if o.known, err = filepath.Abs(o.known); err != nil {
		return fatal(err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fatal(err)
	}
	known, err := loadKnown(o.known, o.cluster > 1)
	if err != nil {
		return fatal(err)
	}

	if o.inner != "" {
		res := runSuite(ctx, o, o.inner, known)
		b, _ := json.Marshal(res)
		if err := os.WriteFile(filepath.Join(o.out, o.inner+".json"), b, 0o644); err != nil {
			return fatal(err)
		}
		return 0
	}

	partialRun = o.run != ""
	if o.cluster > 1 {
		fmt.Printf("compat: against a cluster of %d nodes (cluster-only entries of %s apply)\n", o.cluster, filepath.Base(o.known))
	}
	suites := strings.Split(o.suites, ",")
	if err := build(ctx, o, suites); err != nil {
		return fatal(err)
	}
	var results []*Result
	for _, s := range suites {
		start := time.Now()
		fmt.Printf("=== suite %s (log: %s)\n", s, filepath.Join(o.out, s, "output.log"))
		var res *Result
		if s == "kafka-go" && netnsWorks(ctx) {
			res = runInNetns(ctx, o, s)
		} else if s == "kafka-go" {
			// No private network namespace here (unshare needs root or
			// user namespaces): use the host's localhost:9092 if free.
			if c, err := net.DialTimeout("tcp", "localhost:9092", time.Second); err == nil {
				c.Close()
				res = errResult(s, fmt.Errorf("cannot create a network namespace (unshare -n) and localhost:9092 is taken"))
			} else {
				fmt.Println("compat: unshare -n unavailable; running kafka-go's suite on the host's localhost:9092")
				res = runSuite(ctx, o, s, known)
			}
		} else {
			res = runSuite(ctx, o, s, known)
		}
		p, f, sk := res.Counts()
		fmt.Printf("=== suite %s: %d passed, %d failed, %d skipped in %s\n", s, p, f, sk, time.Since(start).Round(time.Second))
		results = append(results, res)
	}
	return report(os.Stdout, results, known)
}

func fatal(err error) int {
	fmt.Fprintln(os.Stderr, "compat:", err)
	return 2
}

// build compiles the broker and the test binaries of the chosen suites.
func build(ctx context.Context, o options, suites []string) error {
	step := func(dir string, args ...string) error {
		start := time.Now()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
		}
		fmt.Printf("built: go %s (%s)\n", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond))
		return nil
	}
	if err := step(o.repo, "build", "-o", filepath.Join(o.out, "sluice"), "./cmd/sluice"); err != nil {
		return err
	}
	compatDir := filepath.Join(o.repo, "compat")
	built := map[string]bool{}
	for _, s := range suites {
		if pkg := suitePackage(s); pkg != "" && !built[pkg] {
			built[pkg] = true
			if err := step(compatDir, "test", "-c", "-o", suiteBinary(o, s), pkg); err != nil {
				return err
			}
		}
	}
	return nil
}

// suiteBinary is the test binary of suite s; kgo and kgo-tls share one.
func suiteBinary(o options, s string) string {
	if s == "kgo-tls" {
		s = "kgo"
	}
	return filepath.Join(o.out, s+".test")
}

func suitePackage(s string) string {
	switch s {
	case "kgo", "kgo-tls":
		return "github.com/twmb/franz-go/pkg/kgo"
	case "kafka-go":
		return "github.com/segmentio/kafka-go"
	}
	return ""
}

// packageDir is where `go test` would run the package's tests: some read
// files next to them (franz-go's TestOptValuesCoversEveryOption parses
// config.go, kafka-go reads fixtures/).
func packageDir(ctx context.Context, o options, pkg string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", pkg)
	cmd.Dir = filepath.Join(o.repo, "compat")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list %s: %w", pkg, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// netnsWorks reports whether this process may create a network namespace
// and bring its loopback up.
func netnsWorks(ctx context.Context) bool {
	return exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", "ip link set lo up").Run() == nil
}

// runInNetns re-executes the runner inside a new network namespace for
// one suite and reads back its result.
func runInNetns(ctx context.Context, o options, suite string) *Result {
	self, err := os.Executable()
	if err != nil {
		return errResult(suite, err)
	}
	os.Remove(filepath.Join(o.out, suite+".json"))
	args := []string{"-n", "sh", "-c", `ip link set lo up && exec "$@"`, "sh", self,
		"-inner", suite, "-out", o.out, "-repo", o.repo, "-known", o.known,
		"-timeout", o.timeout.String(), "-kgo-records", strconv.Itoa(o.kgoRecords), "-run", o.run,
		"-cluster", strconv.Itoa(o.cluster)}
	if o.verbose {
		args = append(args, "-v")
	}
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return errResult(suite, fmt.Errorf("unshare -n (needs root or user namespaces; iproute2 and util-linux): %w", err))
	}
	b, err := os.ReadFile(filepath.Join(o.out, suite+".json"))
	if err != nil {
		return errResult(suite, err)
	}
	res := newResult(suite)
	if err := json.Unmarshal(b, res); err != nil {
		return errResult(suite, err)
	}
	return res
}

func errResult(suite string, err error) *Result {
	r := newResult(suite)
	r.Error = err.Error()
	return r
}

func runSuite(ctx context.Context, o options, suite string, known *Known) *Result {
	dir := filepath.Join(o.out, suite)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errResult(suite, err)
	}
	logf, err := os.Create(filepath.Join(dir, "output.log"))
	if err != nil {
		return errResult(suite, err)
	}
	defer logf.Close()
	var log io.Writer = logf
	if o.verbose {
		log = io.MultiWriter(logf, os.Stdout)
	}
	sluice := filepath.Join(o.out, "sluice")
	common := []string{"group.initial.rebalance.delay.ms=0"}

	var res *Result
	var nodes []*Broker
	stop := func() {
		for _, b := range nodes {
			b.Stop()
		}
	}
	switch suite {
	case "kgo", "kgo-tls":
		// A SASL listener for TestSCRAMAuth/TestSCRAMAuthBadCredentials
		// (KGO_TEST_SCRAM_SEEDS; the user is made once the broker runs) and
		// TestOAuthAuth (KGO_TEST_OAUTH_SEEDS: unsecured tokens). Those
		// tests dial without TLS, whatever KGO_TEST_TLS says.
		specs, err := loopbackSpecs(o.cluster)
		if err != nil {
			return errResult(suite, err)
		}
		overrides := append(common, "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER", suiteMinISR(clusterRF(o.cluster)))
		records := o.kgoRecords
		var env, sslAddrs []string
		if suite == "kgo-tls" {
			// Every client the suite's helpers make (testClientOpts) dials
			// KGO_SEEDS with KGO_TEST_TLS's config: the SSL listeners. The
			// broker's Metadata then names each broker's SSL address.
			files, err := writeTLSFiles(dir)
			if err != nil {
				return errResult(suite, err)
			}
			if sslAddrs, err = addListener(specs, "SSL"); err != nil {
				return errResult(suite, err)
			}
			overrides = append(overrides, files.brokerOverrides()...)
			records = min(records, tlsRecords)
			env = append(env, files.kgoEnv())
		}
		if nodes, err = start(ctx, o, sluice, dir, specs, overrides...); err != nil {
			return errResult(suite, err)
		}
		if err := createSCRAM(ctx, nodes[0].Addr, kadm.UpsertSCRAM{User: "kgo", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "kgo-secret"}); err != nil {
			stop()
			return errResult(suite, err)
		}
		pkgDir, err := packageDir(ctx, o, suitePackage(suite))
		if err != nil {
			stop()
			return errResult(suite, err)
		}
		kgoSeeds := seeds(nodes)
		if sslAddrs != nil {
			kgoSeeds = strings.Join(sslAddrs, ",")
		}
		saslAddr := strings.TrimPrefix(strings.Split(specs[0].listeners, ",")[1], "SASL_PLAINTEXT://")
		s := &GoSuite{
			Name: suite, Binary: suiteBinary(o, suite), Dir: pkgDir, Timeout: o.timeout, Log: log,
			Env: append(env, "KGO_SEEDS="+kgoSeeds, "KGO_TEST_RF="+strconv.Itoa(clusterRF(o.cluster)), "KGO_TEST_RECORDS="+strconv.Itoa(records),
				"KGO_TEST_SCRAM=kgo:kgo-secret:256", "KGO_TEST_SCRAM_SEEDS="+saslAddr,
				"KGO_TEST_OAUTH_SEEDS="+saslAddr),
			NotRun: known.NotRun(suite), RunPattern: o.run,
		}
		res = s.Run(ctx)
	case "kafka-go":
		// Inside the private network namespace: the fixed ports are ours.
		// kafka-go's ACL tests need an authorizer; allowing resources
		// without ACLs keeps every other test unaffected by it.
		// As its docker-compose.yml: PLAINTEXT on 9092, SASL_PLAINTEXT on
		// 9093 with PLAIN (user adminplain) and SCRAM (user adminscram).
		// In a cluster, node 1 has those ports (the suite's bootstrap) and
		// the others free ones.
		overrides := append(common, "auto.create.topics.enable=true", "message.max.bytes=200000000",
			"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
			"allow.everyone.if.no.acl.found=true",
			"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
			`listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="adminplain" password="admin-secret" user_adminplain="admin-secret";`)
		specs := []nodeSpec{{listeners: "PLAINTEXT://localhost:9092,SASL_PLAINTEXT://localhost:9093", addr: "localhost:9092"}}
		for range o.cluster - 1 {
			p, err := freePort()
			if err != nil {
				return errResult(suite, err)
			}
			sp, err := freePort()
			if err != nil {
				return errResult(suite, err)
			}
			specs = append(specs, nodeSpec{listeners: fmt.Sprintf("PLAINTEXT://localhost:%d,SASL_PLAINTEXT://localhost:%d", p, sp),
				addr: fmt.Sprintf("localhost:%d", p)})
		}
		for i := range specs {
			specs[i].overrides = []string{"advertised.listeners=" + specs[i].listeners}
		}
		if nodes, err = start(ctx, o, sluice, dir, specs, overrides...); err != nil {
			return errResult(suite, err)
		}
		if err := createSCRAM(ctx, nodes[0].Addr,
			kadm.UpsertSCRAM{User: "adminscram", Mechanism: kadm.ScramSha256, Iterations: 8192, Password: "admin-secret-256"},
			kadm.UpsertSCRAM{User: "adminscram", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "admin-secret-512"}); err != nil {
			stop()
			return errResult(suite, err)
		}
		pkgDir, err := packageDir(ctx, o, suitePackage(suite))
		if err != nil {
			stop()
			return errResult(suite, err)
		}
		s := &GoSuite{
			Name: suite, Binary: suiteBinary(o, suite), Dir: pkgDir, Timeout: o.timeout, Log: log,
			Env:    []string{"KAFKA_VERSION=3.7.0", "KAFKA_SKIP_NETTEST=1"},
			NotRun: known.NotRun(suite), RunPattern: o.run,
		}
		res = s.Run(ctx)
	case "kcat":
		specs, err := loopbackSpecs(o.cluster)
		if err != nil {
			return errResult(suite, err)
		}
		for i := range specs {
			specs[i].listeners = "PLAINTEXT://" + specs[i].addr
		}
		// An SSL listener for kcat.sh's ssl/* checks.
		files, err := writeTLSFiles(dir)
		if err != nil {
			return errResult(suite, err)
		}
		sslAddrs, err := addListener(specs, "SSL")
		if err != nil {
			return errResult(suite, err)
		}
		if nodes, err = start(ctx, o, sluice, dir, specs, append(append(common, "num.partitions=3"), files.brokerOverrides()...)...); err != nil {
			return errResult(suite, err)
		}
		res = runKcat(ctx, filepath.Join(o.repo, "compat", "kcat.sh"), nodes[0].Addr, len(nodes), log,
			"SSL_BROKER="+sslAddrs[0], "SSL_CA="+files.CA, "SSL_CERT="+files.ClientCert, "SSL_KEY="+files.ClientKey)
	default:
		return errResult(suite, fmt.Errorf("unknown suite %q", suite))
	}
	for _, b := range nodes {
		if !b.Alive() {
			res.Error = strings.TrimSpace(res.Error + " broker died during the suite; see " + b.LogPath)
		}
	}
	stop()
	return res
}

// loopbackSpecs gives n nodes a PLAINTEXT and a SASL_PLAINTEXT listener
// on free 127.0.0.1 ports.
func loopbackSpecs(n int) ([]nodeSpec, error) {
	var specs []nodeSpec
	for range n {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		sp, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", p)
		specs = append(specs, nodeSpec{listeners: fmt.Sprintf("PLAINTEXT://%s,SASL_PLAINTEXT://127.0.0.1:%d", addr, sp), addr: addr})
	}
	return specs, nil
}

// addListener gives every node of specs one more listener of the given
// security protocol (also its name) on a free 127.0.0.1 port, after the
// others (the first stays the inter-broker listener), and returns their
// addresses.
func addListener(specs []nodeSpec, protocol string) ([]string, error) {
	var addrs []string
	for i := range specs {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", p)
		specs[i].listeners += "," + protocol + "://" + addr
		addrs = append(addrs, addr)
	}
	return addrs, nil
}

// start runs one node (no KRaft settings, as `sluice serve` alone) or,
// with -cluster n, a cluster of n nodes.
func start(ctx context.Context, o options, bin, dir string, specs []nodeSpec, overrides ...string) ([]*Broker, error) {
	if o.cluster == 1 {
		s := specs[0]
		b, err := startBrokerListeners(bin, dir, s.listeners, s.addr, append(overrides, s.overrides...)...)
		if err != nil {
			return nil, err
		}
		return []*Broker{b}, nil
	}
	return startCluster(ctx, bin, dir, specs, overrides...)
}

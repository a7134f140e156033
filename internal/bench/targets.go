package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Kind says what a target is and who starts it.
type Kind int

const (
	// External is a running Kafka-compatible cluster given by its seeds.
	External Kind = iota
	// Sluice is an in-process Sluice broker on a temporary data dir.
	Sluice
	// KFake is franz-go's in-process fake cluster.
	KFake
	// Cluster is several `sluice serve` processes forming one cluster
	// (Target.Cluster).
	Cluster
)

// Target is one system to measure.
type Target struct {
	Name  string
	Kind  Kind
	Seeds []string // External only
	// ClientOpts (External only) are connection options every client of
	// the target takes: TLS and SASL for a secured cluster.
	ClientOpts []kgo.Opt

	// TLS (Sluice, in-process only) serves clients on an SSL listener
	// with a throwaway certificate the bench's clients trust.
	TLS bool

	// NoSync (Sluice) sets log.flush.interval.messages to its maximum,
	// Kafka's own default, instead of Sluice's 1 (fsync before ack).
	NoSync bool

	// KFakeMode is "mem" (no data dir), "disk" (DataDir: writes go to
	// the page cache and are synced on roll and shutdown) or "sync"
	// (DataDir and SyncWrites: fsync every batch).
	KFakeMode string

	Cluster ClusterSpec // Cluster only

	// peer, when set, is the serve-peer kind startProcess runs instead
	// of the one Kind implies (the loopback floor's server).
	peer string
}

// KFakeModes lists the modes kfake supports, in the default order: the
// first is the like-for-like peer of Sluice's fsync-on-ack default.
var KFakeModes = []string{"sync", "disk", "mem"}

// Describe is one line for the report saying what the target is.
func (t Target) Describe() string {
	switch t.Kind {
	case Sluice:
		if t.TLS {
			return "embedded Sluice over TLS (SSL listener, ECDSA P-256 certificate), default config: log.flush.interval.messages=1 (fsync before ack)"
		}
		if t.NoSync {
			return "embedded Sluice, log.flush.interval.messages=MAX (page cache; no fsync before ack, Kafka's default)"
		}
		return "embedded Sluice, default config: log.flush.interval.messages=1 (fsync before ack)"
	case Cluster:
		return t.Cluster.describe()
	case KFake:
		switch t.KFakeMode {
		case "sync":
			return "in-process kfake, DataDir + SyncWrites (fsync every batch)"
		case "disk":
			return "in-process kfake, DataDir (page cache; synced on segment roll and shutdown)"
		default:
			return "in-process kfake, in memory (no data dir)"
		}
	}
	return "external cluster at " + strings.Join(t.Seeds, ",")
}

// ParseExternal parses "[name=]host:port[,host:port...]".
func ParseExternal(s string) (Target, error) {
	name, seeds, ok := strings.Cut(s, "=")
	if !ok {
		seeds, name = name, ""
	}
	var list []string
	for _, h := range strings.Split(seeds, ",") {
		if h = strings.TrimSpace(h); h != "" {
			list = append(list, h)
		}
	}
	if len(list) == 0 {
		return Target{}, fmt.Errorf("--brokers %q: no host:port", s)
	}
	if name == "" {
		name = list[0]
	}
	return Target{Name: name, Kind: External, Seeds: list}, nil
}

// running is a started target.
type running struct {
	seeds []string
	// opts are the client options the target needs (TLS, SASL).
	opts []kgo.Opt
	// pids are the broker processes when they run as processes; nil
	// in-process. CPU and memory figures are their sums.
	pids    func() []int
	cluster *localCluster // Cluster targets
	close   func() error
}

// processes is how many broker processes the target runs.
func (rt *running) processes() []int {
	if rt.pids == nil {
		return nil
	}
	return rt.pids()
}

// startCluster brings a Cluster target up under c.DataDir.
func (t Target) startCluster(ctx context.Context, c *Config) (*running, error) {
	sluice := c.SluiceCommand
	if len(sluice) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		sluice = []string{exe}
	}
	dir, err := os.MkdirTemp(c.DataDir, "sluice-bench-"+t.Name+"-")
	if err != nil {
		return nil, err
	}
	lc, err := startCluster(ctx, sluice, c.BrokerCPUs, dir, t.Cluster, c.BrokerLog)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return &running{seeds: lc.seeds(), pids: lc.pids, cluster: lc, close: func() error {
		return errors.Join(lc.stop(), os.RemoveAll(dir))
	}}, nil
}

// topicSpec is the replication factor and topic configs of t's bench
// topics: a cluster's own, else --replication-factor.
func (c *Config) topicSpec(t Target) (int16, map[string]*string) {
	if t.Kind != Cluster {
		return c.ReplicationFactor, nil
	}
	mi := strconv.Itoa(t.Cluster.minInsync())
	return t.Cluster.rf(), map[string]*string{"min.insync.replicas": &mi}
}

// start brings a target up. Data dirs go under parent (os.TempDir when
// empty) and are removed by close. topics are seeded into kfake up front;
// every target also gets them created through the admin API.
func (t Target) start(parent string, topics []string, partitions int32, brokerLog io.Writer) (*running, error) {
	switch t.Kind {
	case External:
		return &running{seeds: t.Seeds, opts: t.ClientOpts, close: func() error { return nil }}, nil
	case Sluice:
		dir, err := os.MkdirTemp(parent, "sluice-bench-"+t.Name+"-")
		if err != nil {
			return nil, err
		}
		seeds, opts, stop, err := startSluice(dir, t.NoSync, t.TLS, brokerLog)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		return &running{seeds: seeds, opts: opts, close: func() error {
			err := stop()
			return errors.Join(err, os.RemoveAll(dir))
		}}, nil
	case KFake:
		opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...)}
		var dir string
		if t.KFakeMode == "disk" || t.KFakeMode == "sync" {
			var err error
			if dir, err = os.MkdirTemp(parent, "sluice-bench-"+t.Name+"-"); err != nil {
				return nil, err
			}
			opts = append(opts, kfake.DataDir(filepath.Join(dir, "data")))
			if t.KFakeMode == "sync" {
				opts = append(opts, kfake.SyncWrites())
			}
		}
		c, err := kfake.NewCluster(opts...)
		if err != nil {
			if dir != "" {
				os.RemoveAll(dir)
			}
			return nil, err
		}
		return &running{seeds: c.ListenAddrs(), close: func() error {
			c.Close()
			if dir != "" {
				return os.RemoveAll(dir)
			}
			return nil
		}}, nil
	}
	return nil, fmt.Errorf("unknown target kind %d", t.Kind)
}

// createTopic creates topic (tolerating one that exists, as kfake's seeded
// topics do) and waits until every partition answers ListOffsets.
func createTopic(ctx context.Context, seeds []string, topic string, partitions int32, rf int16, configs map[string]*string, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, partitions, rf, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			n := 0
			ends.Each(func(kadm.ListedOffset) { n++ })
			if n == int(partitions) {
				return nil
			}
			err = fmt.Errorf("%d of %d partitions listed", n, partitions)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("topic %s not ready: %w", topic, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deleteTopics is best effort, for external clusters.
func deleteTopics(ctx context.Context, seeds []string, topics []string, opts ...kgo.Opt) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, _ = kadm.NewClient(cl).DeleteTopics(ctx, topics...)
}

package cluster

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// Replication throttles (KIP-73) on a reassignment: `sluice topic
// reassign --throttle` sets the throttled replicas on the topic and the
// rates on the brokers involved; the new replica copies at about the
// rate; once the rates are removed it catches up at once, and --wait
// removes the throttles when the reassignment is complete.

const (
	throttleRate     = 256 << 10 // bytes/s
	throttleFetchMax = 64 << 10  // replica.fetch.max.bytes: one fetch's worth
)

// TestThrottledReassignment: an RF 1 partition with 2 MiB is reassigned
// to itself plus a second broker with --throttle 256 KiB/s. The rate
// sensors keep two 1 s samples (replication.quota.window.num=2), so what
// passes in T seconds is at most rate×(T + 2 s) plus a fetch on each
// side: the first 1.5 MiB cannot arrive before (1.5 MiB − 2×rate −
// 2×fetch)/rate = 3.5 s (unthrottled it takes a fraction of a second).
// Then the rates are deleted, the rest is copied and the reassignment
// completes; --wait removes the topic's throttled-replicas configs.
func TestThrottledReassignment(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3,
		testcluster.WithProp("replication.quota.window.num", "2"),
		testcluster.WithProp("replica.fetch.max.bytes", strconv.Itoa(throttleFetchMax)))
	from, to := c.Node(0).ID(), c.Node(1).ID()
	const topic = "throttled-move"
	tcCreateAssigned(t, c, topic, []int32{from}, nil)
	c.WaitPartitionLeader(topic, 0)
	adm := c.Admin(t)

	// Defaults: unbounded rates, no throttled replicas.
	wantBrokerConfig(t, c, adm, from, "leader.replication.throttled.rate", "9223372036854775807", kmsg.ConfigSourceDefaultConfig)
	wantTopicConfig(t, adm, topic, "leader.replication.throttled.replicas", "")

	const records, size = 128, 16 << 10
	cl := producer(t, c, kgo.ProducerBatchCompression(kgo.NoCompression()))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range records {
		val := make([]byte, size)
		for j := range val {
			val[j] = byte(rng.Uint32())
		}
		r := &kgo.Record{Topic: topic, Partition: 0, Value: val, Key: []byte(strconv.Itoa(i))}
		if err := cl.ProduceSync(ctx(t), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	total, err := segmentBytes(c, from, topic, 0)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	out := runSluiceCLI(t, c, "topic", "reassign", "--topic", topic, "--partition", "0",
		"--replicas", fmt.Sprintf("%d,%d", from, to), "--throttle", strconv.Itoa(throttleRate))
	if !strings.Contains(out, "Throttle of 262144 bytes/s set on brokers") {
		t.Fatalf("reassign --throttle:\n%s", out)
	}
	// AlterConfigs applied: the rates on both brokers, the replicas on
	// the topic (the current replica leads, the new one follows).
	for _, id := range []int32{from, to} {
		wantBrokerConfig(t, c, adm, id, "leader.replication.throttled.rate", strconv.Itoa(throttleRate), kmsg.ConfigSourceDynamicBrokerConfig)
		wantBrokerConfig(t, c, adm, id, "follower.replication.throttled.rate", strconv.Itoa(throttleRate), kmsg.ConfigSourceDynamicBrokerConfig)
	}
	wantTopicConfig(t, adm, topic, "leader.replication.throttled.replicas", fmt.Sprintf("0:%d", from))
	wantTopicConfig(t, adm, topic, "follower.replication.throttled.replicas", fmt.Sprintf("0:%d", to))

	const part = 3 << 19 // 1.5 MiB
	if len(total) <= part {
		t.Fatalf("only %d bytes written", len(total))
	}
	c.WaitForWithin(60*time.Second, "1.5 MiB copied to the new replica", func() error {
		got, err := segmentBytes(c, to, topic, 0)
		if err != nil {
			return err
		}
		if len(got) < part {
			return fmt.Errorf("%d bytes", len(got))
		}
		return nil
	})
	took := time.Since(start)
	floor := time.Duration(float64(part-2*throttleRate-2*throttleFetchMax) / throttleRate * float64(time.Second))
	t.Logf("1.5 MiB copied in %s at a throttle of %d B/s (floor %s)", took, throttleRate, floor)
	if took < floor {
		t.Errorf("1.5 MiB copied in %s: faster than the throttle allows (%s)", took, floor)
	}
	if ls, _ := adm.ListPartitionReassignments(ctx(t), kadm.TopicsSet{topic: {0: {}}}); len(ls) == 0 {
		t.Fatalf("the reassignment completed with %d of %d bytes known copied", part, len(total))
	}

	// Removing the rates lets it finish; --wait then clears the topic's
	// throttled replicas and the rates everywhere.
	del := []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "leader.replication.throttled.rate"},
		{Op: kadm.DeleteConfig, Name: "follower.replication.throttled.rate"}}
	if err := firstAlterErr(adm.AlterBrokerConfigs(ctx(t), del, from, to)); err != nil {
		t.Fatal(err)
	}
	out = runSluiceCLI(t, c, "topic", "reassign", "--topic", topic, "--partition", "0", "--wait", "--interval", "100ms")
	if !strings.Contains(out, topic+"-0: complete") || !strings.Contains(out, "Throttles removed") {
		t.Fatalf("reassign --wait:\n%s", out)
	}
	wantTopicConfig(t, adm, topic, "leader.replication.throttled.replicas", "")
	wantTopicConfig(t, adm, topic, "follower.replication.throttled.replicas", "")
	wantBrokerConfig(t, c, adm, to, "follower.replication.throttled.rate", "9223372036854775807", kmsg.ConfigSourceDefaultConfig)
	c.WaitFor("the new replica's log equal to the leader's", func() error {
		got, err := segmentBytes(c, to, topic, 0)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, total) {
			return fmt.Errorf("%d of %d bytes", len(got), len(total))
		}
		return nil
	})
}

func firstAlterErr(resps kadm.AlterConfigsResponses, err error) error {
	if err != nil {
		return err
	}
	for _, r := range resps {
		if r.Err != nil {
			return fmt.Errorf("%s: %w %s", r.Name, r.Err, r.ErrMessage)
		}
	}
	return nil
}

// wantBrokerConfig waits until broker id's DescribeConfigs entry for key
// has value from src (a change reaches the broker through the image).
func wantBrokerConfig(t *testing.T, c *testcluster.Cluster, adm *kadm.Client, id int32, key, value string, src kmsg.ConfigSource) {
	t.Helper()
	c.WaitFor(fmt.Sprintf("broker %d %s = %s", id, key, value), func() error {
		rc, err := adm.DescribeBrokerConfigs(ctx(t), id)
		if err != nil || len(rc) != 1 {
			return fmt.Errorf("%v %+v", err, rc)
		}
		for _, e := range rc[0].Configs {
			if e.Key == key {
				if e.MaybeValue() != value || e.Source != src {
					return fmt.Errorf("%q from %v", e.MaybeValue(), e.Source)
				}
				return nil
			}
		}
		return fmt.Errorf("not described")
	})
}

// wantTopicConfig checks topic's DescribeConfigs value of key.
func wantTopicConfig(t *testing.T, adm *kadm.Client, topic, key, value string) {
	t.Helper()
	rc, err := adm.DescribeTopicConfigs(ctx(t), topic)
	if err != nil || len(rc) != 1 || rc[0].Err != nil {
		t.Fatalf("describe %s: %v %+v", topic, err, rc)
	}
	for _, c := range rc[0].Configs {
		if c.Key == key {
			if c.MaybeValue() != value {
				t.Fatalf("%s %s = %q, want %q", topic, key, c.MaybeValue(), value)
			}
			return
		}
	}
	t.Fatalf("%s: no %s described", topic, key)
}

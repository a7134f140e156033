package cluster

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestAddBrokerUnderLoad is issue #18's "a broker added later": a fourth
// node joins a running three-node cluster (testcluster.AddNode: a new
// broker registering with the quorum), then `sluice cluster add-broker
// --broker 4 --throttle ... --wait` moves its share of replicas onto it
// while two idempotent acks=all producers write and a group consumes.
// The CLI prints the moves' progress while they are throttled, removes
// the throttles at the end (DescribeConfigs shows the defaults again),
// broker 4 holds its share, and the chaos checker finds every
// acknowledged record in every replica's committed log once.
func TestAddBrokerUnderLoad(t *testing.T) {
	t.Parallel()
	const (
		topic = "grow-load"
		parts = 6
		// The prefill (8 KiB records, 24 per partition) is what makes the
		// copy take seconds at the throttle's rate; one fetch's worth is
		// small, so the rate holds from the first fetch.
		prefill     = 24
		prefillSize = 8 << 10
		rate        = 256 << 10
	)
	c := testcluster.New(t, 3, testcluster.WithProp("replica.fetch.max.bytes", strconv.Itoa(64<<10)))
	adm := c.Admin(t)
	two := "2"
	if resp, err := adm.CreateTopic(ctx(t), parts, 3, map[string]*string{"min.insync.replicas": &two}, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	for p := range int32(parts) {
		c.WaitPartitionLeader(topic, p)
	}
	// The prefill is producer 9's records: the checker reads every record
	// of the log as some producer's.
	pre := producer(t, c, kgo.ProducerBatchMaxBytes(1<<20))
	for p := range int32(parts) {
		for i := range prefill {
			v := recKey{9, int(p)*prefill + i}.value() + strings.Repeat("x", prefillSize)
			if err := pre.ProduceSync(ctx(t), &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("prefill %s-%d: %v", topic, p, err)
			}
		}
	}

	added := c.AddNode(nil)
	if added.ID() != 4 {
		t.Fatalf("added node %d, want 4", added.ID())
	}

	acks := &ackSet{acked: map[recKey]int32{}}
	l := newUnderLoad()
	defer l.stopAll()
	gl, strict, stopProducers, stopConsumer := l.gl, l.strict, l.stopProducers, l.stopConsumer
	runStrictConsumer(t, c, topic, "grow-group", gl, strict, stopConsumer, &l.consumers)
	for id := range 2 {
		runProducer(t, c, topic, id, parts, 10*time.Millisecond, acks, stopProducers, &l.producers)
	}
	waitAcked(c, acks, 50)

	start := time.Now()
	out := runSluiceCLI(t, c, "cluster", "add-broker", "--broker", "4", "--throttle", strconv.Itoa(rate), "--wait", "--interval", "200ms")
	t.Logf("add-broker took %v:\n%s", time.Since(start).Round(time.Millisecond), tail(out, 4000))
	for _, want := range []string{
		fmt.Sprintf("Throttle of %d bytes/s set on brokers", rate),
		"Reassignment started for ",
		": in progress: ",
		"Throttles removed from brokers 1,2,3,4",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("add-broker output has no %q", want)
		}
	}
	for id := int32(1); id <= 4; id++ {
		for _, key := range []string{"leader.replication.throttled.rate", "follower.replication.throttled.rate"} {
			wantBrokerConfig(t, c, adm, id, key, "9223372036854775807", kmsg.ConfigSourceDefaultConfig)
		}
	}
	wantTopicConfig(t, adm, topic, "leader.replication.throttled.replicas", "")
	wantTopicConfig(t, adm, topic, "follower.replication.throttled.replicas", "")

	// Its share: every topic's replicas (__consumer_offsets' were placed
	// after it joined, some on it) over the 4 brokers, rounded down.
	per, total := map[int32]int{}, 0
	for _, topic := range []string{topic, "__consumer_offsets"} {
		for _, r := range replicaSets(t, c, 3, topic) {
			for _, b := range r {
				per[b]++
				total++
			}
		}
	}
	if per[4] != total/4 {
		t.Errorf("replicas per broker %v: broker 4 holds %d, want %d", per, per[4], total/4)
	}

	waitAcked(c, acks, ackedCount(acks)+50)
	close(stopProducers)
	l.producers.Wait()
	acks.mu.Lock()
	acked := maps.Clone(acks.acked)
	sent, failed := acks.sent, acks.failed
	acks.mu.Unlock()
	if failed > 0 {
		t.Errorf("%d of %d records failed delivery; first: %v", failed, sent, acks.errs)
	}
	for k := range parts * prefill {
		acked[recKey{9, k}] = int32(k / prefill)
	}
	_, recs := checkAfterRun(t, c, topic, onlyLoad(acked), gl, stopConsumer, &l.consumers)
	for _, e := range checkAcked(recs, acked) {
		t.Error(e)
	}
	strict.report(t)
	t.Logf("%d records sent, %d acknowledged, %d in the log, %d consumed, replicas per broker %v",
		sent, len(acked), len(recs), len(gl.records), per)
}

// onlyLoad leaves out the prefill (producer 9): its values carry padding,
// so the group's record of what it read names them otherwise.
func onlyLoad(acked map[recKey]int32) map[recKey]int32 {
	out := map[recKey]int32{}
	for k, p := range acked {
		if k.producer != 9 {
			out[k] = p
		}
	}
	return out
}

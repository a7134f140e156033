package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestLostDataDiskRebuilds is the recovery from losing a broker's data
// disk (docs/CLUSTER.md, "Losing a disk"): node 3 keeps its metadata log
// on its own disk (metadata.log.dir) and its log.dirs directory is
// replaced by an empty one formatted with the same cluster id and node id.
// It restarts, refetches every partition it holds from the leaders and
// rejoins every ISR; its replicas end byte for byte the leaders', and
// every acknowledged record is there once.
func TestLostDataDiskRebuilds(t *testing.T) {
	t.Parallel()
	const topic = "disk"
	c := testcluster.New(t, 3, testcluster.WithNodeProp(2, "metadata.log.dir", t.TempDir()))
	adm := c.Admin(t)
	two := "2"
	if resp, err := adm.CreateTopic(ctx(t), 3, 3, map[string]*string{"min.insync.replicas": &two}, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	for p := range int32(3) {
		c.WaitPartitionLeader(topic, p)
	}
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	acked := map[recKey]int32{}
	produce := func(from, to int) {
		t.Helper()
		var recs []*kgo.Record
		for seq := from; seq < to; seq++ {
			k := recKey{0, seq}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(seq % 3), Value: []byte(k.value())})
		}
		pctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, r := range cl.ProduceSync(pctx, recs...) {
			if r.Err != nil {
				t.Fatalf("produce: %v", r.Err)
			}
			k, _ := parseValue(r.Record.Value)
			acked[k] = r.Record.Partition
		}
	}
	produce(0, 300)
	c.Wipe(2)
	produce(300, 400) // two replicas left: min.insync.replicas holds
	c.Restart(2)
	waitFullISR(c, topic)

	logs := waitConverged(c, topic)
	recs, err := committedRecords(logs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range checkAcked(recs, acked) {
		t.Error(e)
	}
	if len(recs) != len(acked) {
		t.Errorf("%d records in the log, %d acknowledged", len(recs), len(acked))
	}
}

// TestLostMetadataDiskRefused: a voter whose metadata log is lost with
// its disk (the metadata in log.dirs) and that comes back formatted while
// the quorum leader still remembers what it acknowledged stops with a
// clear error rather than rejoining: a voter with a forgotten log could
// vote a candidate missing committed entries into the lead. The other two
// go on serving.
func TestLostMetadataDiskRefused(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	leader := c.WaitLeader()
	victim := (leader.Index() + 1) % c.N()
	adm := c.Admin(t)
	if resp, err := adm.CreateTopic(ctx(t), 1, 2, nil, "before"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	c.Wipe(victim)
	err := c.RestartErr(victim)
	c.WaitFor("the wiped voter to stop on its lost log", func() error {
		if err != nil && strings.Contains(err.Error(), "lost log entries") ||
			strings.Contains(c.Node(victim).Logs(), "lost log entries it had acknowledged") {
			return nil
		}
		return fmt.Errorf("start error %v; no lost-log error in its log", err)
	})
	if resp, err := adm.CreateTopic(ctx(t), 1, 2, nil, "after"); err != nil || resp.Err != nil {
		t.Fatalf("create with two voters left: %v %v", err, resp.Err)
	}
}

package cluster

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestReplicationWithTwoFetchers: with num.replica.fetchers=2 a follower
// spreads the partitions it copies from one leader over two fetchers;
// every partition still ends byte for byte equal on its three replicas,
// with every record.
func TestReplicationWithTwoFetchers(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.WithProp("num.replica.fetchers", "2"))
	const topic, parts, n = "repl-two-fetchers", 6, 300
	adm := c.Admin(t)
	if resp, err := adm.CreateTopic(ctx(t), parts, 3, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	for p := range int32(parts) {
		c.WaitPartitionLeader(topic, p)
	}
	cl := c.Client(t, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	for i := range n {
		cl.Produce(ctx(t), &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "v%03d", i)}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	total := 0
	for p := range int32(parts) {
		pi := partitionInfo(t, c, 0, topic, p)
		var logs [][]byte
		c.WaitFor(fmt.Sprintf("partition %d's replicas equal to its leader", p), func() error {
			logs = logs[:0]
			for _, id := range pi.Replicas {
				b, err := segmentBytes(c, id, topic, p)
				if err != nil {
					return err
				}
				logs = append(logs, b)
			}
			for i := 1; i < len(logs); i++ {
				if !bytes.Equal(logs[0], logs[i]) {
					return fmt.Errorf("replica %d holds %d bytes, replica %d %d", pi.Replicas[0], len(logs[0]), pi.Replicas[i], len(logs[i]))
				}
			}
			return nil
		})
		_ = record.Split(logs[0], func(h record.Header, _ []byte) error {
			total += int(h.NumRecords)
			return nil
		})
	}
	if total != n {
		t.Fatalf("the partitions hold %d records, want %d", total, n)
	}
}

package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupAssignors: with each of Kafka's client-side assignors, two
// members split a 4-partition topic (each partition owned once, two each,
// the group's protocol named after the assignor), and partitions added
// with CreatePartitions are assigned and consumed after a rebalance.
func TestGroupAssignors(t *testing.T) {
	for _, tc := range []struct {
		protocol string
		balancer kgo.GroupBalancer
	}{
		{"range", kgo.RangeBalancer()},
		{"roundrobin", kgo.RoundRobinBalancer()},
		{"sticky", kgo.StickyBalancer()},
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			t.Parallel()
			tb := startGroupBroker(t)
			adm := newAdmin(t, tb.Addr())
			topic, group := topicName(t, ""), "g-"+tc.protocol
			createTopic(t, adm, topic, 4, nil)
			opts := withKgo(
				kgo.Balancers(tc.balancer),
				// The leader notices new partitions on its next refresh.
				kgo.MetadataMinAge(50*time.Millisecond),
				kgo.MetadataMaxAge(300*time.Millisecond),
			)
			a := startGroupMember(t, tb.Addr(), group, "a", []string{topic}, opts)
			b := startGroupMember(t, tb.Addr(), group, "b", []string{topic}, opts)
			got := waitBalanced(t, adm, group, topic, 4, a, b)
			if len(got["a"]) != 2 || len(got["b"]) != 2 {
				t.Errorf("assignment %v, want two partitions each", got)
			}
			ctx := testCtx(t, 30*time.Second)
			ds, err := adm.DescribeGroups(ctx, group)
			if err != nil {
				t.Fatalf("describe: %v", err)
			}
			if d := ds[group]; d.Protocol != tc.protocol || d.ProtocolType != "consumer" {
				t.Errorf("group protocol %q type %q, want %q type consumer", d.Protocol, d.ProtocolType, tc.protocol)
			}

			resp, err := adm.CreatePartitions(ctx, 2, topic)
			if err != nil || resp[topic].Err != nil {
				t.Fatalf("create partitions: %v / %v", err, resp[topic].Err)
			}
			got = waitBalanced(t, adm, group, topic, 6, a, b)
			if len(got["a"]) != 3 || len(got["b"]) != 3 {
				t.Errorf("after adding partitions: assignment %v, want three each", got)
			}

			// A record in each partition, new ones included, is consumed once.
			prod := newClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			var values []string
			for p := range int32(6) {
				v := fmt.Sprintf("p%d", p)
				values = append(values, v)
				produceSync(t, prod, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)})
			}
			waitRecords(t, values, a, b)
		})
	}
}

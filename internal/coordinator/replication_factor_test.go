package coordinator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/config"
)

// A single broker told offsets.topic.replication.factor=3 never creates
// __consumer_offsets with fewer replicas: FindCoordinator answers
// COORDINATOR_NOT_AVAILABLE, saying why, and the topic does not exist.
// Without the setting a single node resolves the factor to 1 and serves.
func TestOffsetsTopicNeedsEnoughBrokers(t *testing.T) {
	b := startBroker(t, t.TempDir(), "127.0.0.1:0", func(c *config.Broker) {
		c.Raw[config.OffsetsTopicReplicationFactorKey] = "3"
	})
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKeys = []string{"g"}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Coordinators[0]
	if c.ErrorCode != kerr.CoordinatorNotAvailable.Code || c.ErrorMessage == nil || !strings.Contains(*c.ErrorMessage, "offsets.topic.replication.factor") {
		t.Fatalf("FindCoordinator with too few brokers: %+v", c)
	}
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("__consumer_offsets")
	md.Topics = append(md.Topics, mt)
	mr, err := md.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if mr.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("__consumer_offsets exists: %+v", mr.Topics[0])
	}

	single := startBroker(t, t.TempDir(), "127.0.0.1:0", nil)
	defer single.Close()
	cl2, err := kgo.NewClient(kgo.SeedBrokers(single.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	resp, err = req.RequestWith(ctx, cl2)
	if err != nil || resp.Coordinators[0].ErrorCode != 0 {
		t.Fatalf("single node with the default factor: %v %+v", err, resp)
	}
}

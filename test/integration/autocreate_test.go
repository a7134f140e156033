package integration

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadataAutoCreate sends Metadata for topic with
// allow_auto_topic_creation set and returns the topic's error code.
func metadataAutoCreate(t *testing.T, cl *kgo.Client, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	for _, mt := range resp.Topics {
		if mt.Topic != nil && *mt.Topic == topic {
			return mt.ErrorCode
		}
	}
	t.Fatalf("metadata response lacks topic %q", topic)
	return 0
}

// TestAutoCreateTopicsOn: with auto.create.topics.enable=true, producing
// to a new topic creates it with num.partitions partitions and an ID;
// Metadata that does not allow auto-creation creates nothing.
func TestAutoCreateTopicsOn(t *testing.T) {
	tb := startBroker(t, withProp("auto.create.topics.enable", "true"), withProp("num.partitions", "3"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")

	cl := newClient(t, tb.Addr(), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(topic))
	produceSync(t, cl, kgo.StringRecord("first"))
	ok, n, id := topicExists(t, adm, topic)
	if !ok || n != 3 {
		t.Fatalf("auto-created topic: exists=%v partitions=%d, want true, num.partitions=3", ok, n)
	}
	if id == ([16]byte{}) {
		t.Errorf("auto-created topic has no topic ID")
	}

	// topicExists uses Metadata without allow_auto_topic_creation.
	other := topicName(t, "not-requested")
	if ok, _, _ := topicExists(t, adm, other); ok {
		t.Errorf("Metadata without allow_auto_topic_creation created %q", other)
	}
	if ok, _, _ := topicExists(t, adm, other); ok {
		t.Errorf("topic %q exists after a second non-creating Metadata", other)
	}

	// Invalid names are not auto-created.
	if code := metadataAutoCreate(t, cl, "bad name"); code != kerr.InvalidTopicException.Code {
		t.Errorf("auto-create of %q: error %v, want INVALID_TOPIC_EXCEPTION", "bad name", kerr.ErrorForCode(code))
	}
}

// TestAutoCreateTopicsOff: with auto.create.topics.enable=false, producing
// to a new topic fails with UNKNOWN_TOPIC_OR_PARTITION and creates nothing.
func TestAutoCreateTopicsOff(t *testing.T) {
	tb := startBroker(t, withProp("auto.create.topics.enable", "false"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")

	cl := newClient(t, tb.Addr(),
		kgo.AllowAutoTopicCreation(),
		kgo.DefaultProduceTopic(topic),
		kgo.UnknownTopicRetries(1),
	)
	ctx := testCtx(t, 30*time.Second)
	err := cl.ProduceSync(ctx, kgo.StringRecord("nowhere")).FirstErr()
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("produce to a missing topic with auto-creation off: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	if code := metadataAutoCreate(t, cl, topic); code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("metadata allowing auto-creation (broker forbids it): error %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(code))
	}
	if ok, _, _ := topicExists(t, adm, topic); ok {
		t.Errorf("topic %q was created although auto.create.topics.enable=false", topic)
	}
}

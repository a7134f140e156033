package integration

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupOffsetsTopicRejectsProduce: clients cannot write into
// __consumer_offsets (Kafka: INVALID_TOPIC_EXCEPTION, "Cannot append to
// internal topic"), so nobody can forge a commit that the coordinator
// would replay after a restart.
func TestGroupOffsetsTopicRejectsProduce(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g"
	createTopic(t, adm, topic, 1, nil)
	cl := newClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordRetries(0))
	waitCoordinator(t, cl, group)
	wantCode(t, "commit", commitCode(t, cl, commitReq(group, "", -1, topic, 0, "")), nil)

	// An offset commit record (key v1, value v1) for group "g", topic,
	// partition 0, offset 999, into every partition of __consumer_offsets.
	key := []byte{0, 1, 0, 1, 'g', 0, byte(len(topic))}
	key = append(append(key, topic...), 0, 0, 0, 0)
	value := []byte{0, 1, 0, 0, 0, 0, 0, 0, 0x03, 0xe7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	for p := range int32(3) {
		err := cl.ProduceSync(testCtx(t, 10*time.Second), &kgo.Record{Topic: "__consumer_offsets", Partition: p, Key: key, Value: value}).FirstErr()
		if !errors.Is(err, kerr.InvalidTopicException) {
			t.Errorf("produce to __consumer_offsets/%d: %v, want %v", p, err, kerr.InvalidTopicException)
		}
	}

	tb.Restart()
	waitFor(t, 15*time.Second, "the genuine commit after restart", func() error {
		got, err := committedOffsets(testCtx(t, 5*time.Second), adm, group, topic)
		if err != nil {
			return err
		}
		if got[0].At != 1 {
			t.Fatalf("committed offset %d after restart, want the genuine 1", got[0].At)
		}
		return nil
	})
}

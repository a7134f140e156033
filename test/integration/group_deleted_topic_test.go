package integration

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestGroupOffsetsOfDeletedTopic: deleting a topic deletes the groups'
// committed offsets on it (Kafka's coordinator writes their tombstones on
// partition deletion), so a topic re-created under the same name is read
// from its start, not from the old topic's offsets.
func TestGroupOffsetsOfDeletedTopic(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, other, group := topicName(t, ""), topicName(t, "kept"), "g-deleted-topic"
	createTopic(t, adm, topic, 1, nil)
	createTopic(t, adm, other, 1, nil)
	prod := newClient(t, tb.Addr())
	old := seqValues("old", 5)
	produceValues(t, prod, topic, old, nil)
	produceValues(t, prod, other, old, nil)
	c1 := startGroupMember(t, tb.Addr(), group, "c1", []string{topic, other}, committingEachPoll())
	waitCommittedAtEnd(t, adm, group, topic)
	waitCommittedAtEnd(t, adm, group, other)
	c1.Close()

	ctx := testCtx(t, 30*time.Second)
	if r, err := adm.DeleteTopics(ctx, topic); err != nil || r.Error() != nil {
		t.Fatalf("delete topic: %v / %v", err, r.Error())
	}
	waitFor(t, 15*time.Second, "offsets of the deleted topic gone", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gone, err := committedOffsets(ctx, adm, group, topic)
		if err != nil {
			return err
		}
		kept, err := committedOffsets(ctx, adm, group, other)
		if err != nil {
			return err
		}
		if len(gone) != 0 || kept[0].At != 5 {
			return fmt.Errorf("deleted topic: %v; other topic: %v (want none, and 5)", gone, kept)
		}
		return nil
	})

	createTopic(t, adm, topic, 1, nil)
	fresh := seqValues("new", 10)
	// A fresh producer: kgo never adopts a re-created topic's new ID in a
	// client that saw the old one (it fails it with UNKNOWN_TOPIC_ID), as
	// against Kafka.
	produceValues(t, newClient(t, tb.Addr()), topic, fresh, nil)
	c2 := startGroupMember(t, tb.Addr(), group, "c2", []string{topic})
	waitRecords(t, fresh, c2)
}

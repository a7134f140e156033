package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// committedOffsets returns the group's committed offsets of topic by
// partition (partitions without a commit are left out). The topic need
// not exist.
func committedOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]kadm.OffsetResponse, error) {
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := map[int32]kadm.OffsetResponse{}
	var firstErr error
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, o.Err)
		}
		if o.Topic == topic && o.At >= 0 {
			out[o.Partition] = o
		}
	})
	return out, firstErr
}

// waitCommittedAtEnd waits until the group's committed offset on every
// partition of topic equals the partition's end offset, and returns them.
func waitCommittedAtEnd(t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	waitFor(t, 30*time.Second, fmt.Sprintf("group %s committed at the end of %s", group, topic), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		committed, err := committedOffsets(ctx, adm, group, topic)
		if err != nil {
			return err
		}
		var bad error
		ends.Each(func(e kadm.ListedOffset) {
			c, ok := committed[e.Partition]
			switch {
			case e.Err != nil:
				bad = e.Err
			case e.Offset == 0 && !ok:
			case !ok || c.At != e.Offset:
				bad = fmt.Errorf("partition %d: committed %v, end %d", e.Partition, c.At, e.Offset)
			}
			out[e.Partition] = e.Offset
		})
		return bad
	})
	return out
}

// TestGroupOffsetsSurviveBrokerRestart: offsets committed by a consumer,
// and by an admin with metadata, are there after the broker restarts on
// the same data directory; the group is listed (Empty) and a new consumer
// continues without re-reading committed records.
func TestGroupOffsetsSurviveBrokerRestart(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group, adminGroup := topicName(t, ""), "g-durable", "g-admin"
	createTopic(t, adm, topic, 2, nil)
	prod := newClient(t, tb.Addr())
	key := func(i int) string { return fmt.Sprintf("k%d", i) }

	first := seqValues("before", 60)
	produceValues(t, prod, topic, first, key)
	c1 := startGroupMember(t, tb.Addr(), group, "c1", []string{topic}, committingEachPoll())
	waitRecords(t, first, c1)
	before := waitCommittedAtEnd(t, adm, group, topic)
	c1.Close()

	ctx := testCtx(t, 30*time.Second)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 3, LeaderEpoch: -1, Metadata: "admin-metadata"})
	if err := adm.CommitAllOffsets(ctx, adminGroup, offs); err != nil {
		t.Fatalf("admin commit: %v", err)
	}

	tb.Restart()

	waitFor(t, 30*time.Second, "offsets after restart", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := committedOffsets(ctx, adm, group, topic)
		if err != nil {
			return err
		}
		for p, want := range before {
			if want > 0 && got[p].At != want {
				return fmt.Errorf("partition %d: committed %d after restart, want %d", p, got[p].At, want)
			}
		}
		a, err := committedOffsets(ctx, adm, adminGroup, topic)
		if err != nil {
			return err
		}
		if a[0].At != 3 || a[0].Metadata != "admin-metadata" {
			return fmt.Errorf("admin group partition 0: %+v, want offset 3 with metadata", a[0])
		}
		return nil
	})
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatalf("list groups after restart: %v", err)
	}
	for _, g := range []string{group, adminGroup} {
		if l, ok := listed[g]; !ok || l.State != "Empty" {
			t.Errorf("after restart ListGroups has %q as %+v (present %v), want state Empty", g, l, ok)
		}
	}

	second := seqValues("after", 40)
	produceValues(t, prod, topic, second, key)
	c2 := startGroupMember(t, tb.Addr(), group, "c2", []string{topic})
	waitRecords(t, second, c2)
	assertNoneOf(t, c2, first)
}

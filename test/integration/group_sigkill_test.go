package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupMemberSIGKILL: a member in another process is killed with
// SIGKILL (no LeaveGroup). Within the session timeout and a margin the
// survivor owns every partition, and the records the killed member had
// processed but not committed are delivered again, to the survivor; those
// it committed are not.
func TestGroupMemberSIGKILL(t *testing.T) {
	t.Parallel()
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g-sigkill"
	createTopic(t, adm, topic, 2, nil)

	survivor := startGroupMember(t, tb.Addr(), group, "survivor", []string{topic})
	waitBalanced(t, adm, group, topic, 2, survivor)
	const commitAt = 5
	victim := startProcMember(t, tb.Addr(), group, topic, "-commit", "once", "-n", fmt.Sprint(commitAt))

	// Each member owns one partition, by the survivor's, the victim's and
	// the coordinator's accounts.
	var victimPart, survivorPart int32
	waitFor(t, 30*time.Second, "survivor and victim owning one partition each", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		state, byClient, err := describedAssignment(ctx, adm, group, topic)
		if err != nil {
			return err
		}
		vOwned := victim.view().owned
		sOwned := survivor.Owned(topic)
		if state != "Stable" || len(byClient["survivor"]) != 1 || len(byClient["groupmember"]) != 1 ||
			len(vOwned) != 1 || !slices.Equal(sOwned, byClient["survivor"]) || !vOwned[byClient["groupmember"][0]] {
			return fmt.Errorf("state %s, described %v, survivor owns %v, victim owns %v", state, byClient, sOwned, vOwned)
		}
		victimPart, survivorPart = byClient["groupmember"][0], byClient["survivor"][0]
		return nil
	})

	const perPartition = 20
	prod := newClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	value := func(p int32, i int) string { return fmt.Sprintf("p%d-%d", p, i) }
	var rs []*kgo.Record
	for _, p := range []int32{victimPart, survivorPart} {
		for i := range perPartition {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(value(p, i))})
		}
	}
	produceSync(t, prod, rs...)

	waitFor(t, 30*time.Second, "the victim processing its partition and committing once", func() error {
		v := victim.view()
		if len(v.processed[victimPart]) != perPartition || v.committed[victimPart] != commitAt {
			return fmt.Errorf("processed %d of partition %d, committed %v", len(v.processed[victimPart]), victimPart, v.committed)
		}
		return nil
	})
	killed := time.Now()
	victim.Kill()

	waitFor(t, groupSession+10*time.Second, "the survivor owning every partition", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		state, byClient, err := describedAssignment(ctx, adm, group, topic)
		if err != nil {
			return err
		}
		if own := survivor.Owned(topic); state != "Stable" || len(byClient) != 1 || len(own) != 2 || !slices.Equal(own, byClient["survivor"]) {
			return fmt.Errorf("state %s, described %v, survivor owns %v", state, byClient, own)
		}
		return nil
	})
	t.Logf("survivor owned both partitions %v after the SIGKILL", time.Since(killed).Round(time.Millisecond))

	// Redelivered: the victim's uncommitted records; plus the survivor's own.
	var want []string
	for i := range perPartition {
		want = append(want, value(survivorPart, i))
		if i >= commitAt {
			want = append(want, value(victimPart, i))
		}
	}
	waitRecords(t, want, survivor) // fails on a committed record redelivered
	processed := victim.view().processed[victimPart]
	for _, r := range survivor.Records() {
		if r.Partition != victimPart {
			continue
		}
		if v, ok := processed[r.Offset]; !ok || v != string(r.Value) {
			t.Errorf("redelivered %d@%d %q, the victim had processed %q", r.Partition, r.Offset, r.Value, v)
		}
	}
}

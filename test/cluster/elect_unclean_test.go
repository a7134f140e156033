package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestElectLeadersUnclean: an RF 2 partition whose ISR is its leader
// alone (the follower cut off while the log grew) loses that leader to a
// crash and stays leaderless (unclean.leader.election.enable is false).
// An ElectLeaders of type UNCLEAN (kadm's ElectLiveReplica) makes the live
// out-of-sync replica leader with an ISR of itself, as Kafka's
// ReplicationControlManager does; the record only the old leader had is
// gone. Kafka's answers around it: PREFERRED with the preferred replica
// down gets PREFERRED_LEADER_NOT_AVAILABLE, UNCLEAN on a partition with a
// leader ELECTION_NOT_NEEDED. The restarted old leader truncates, rejoins
// the ISR (which the controller refuses while the leader is still
// RECOVERING, so the new leader must have marked it RECOVERED), and
// PREFERRED moves the leadership back to it, then answers
// ELECTION_NOT_NEEDED.
func TestElectLeadersUnclean(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	v := victim(t, c)
	vid := c.Node(v).ID()
	ctl := c.WaitLeader().Index()
	w := 3 - v - ctl
	wid := c.Node(w).ID()
	const topic = "elect-unclean"
	tcCreateAssigned(t, c, topic, []int32{vid, wid}, nil)
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if l != vid || !sameSet(isr, []int32{vid, wid}) {
			return fmt.Errorf("leader %d isr %v", l, isr)
		}
		return nil
	})
	cl := producer(t, c)
	produceTo(t, cl, topic, 0, "a")
	c.Cut(v, w)
	t.Cleanup(c.HealAll)
	if code := produceOnce(t, c, v, topic, 1, 5*time.Second); code != 0 {
		t.Fatalf("acks=1 to the leader: %v", kerr.ErrorForCode(code))
	}
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if l != vid || !slices.Equal(isr, []int32{vid}) {
			return fmt.Errorf("leader %d isr %v, want %d alone", l, isr, vid)
		}
		return nil
	})
	c.Crash(v)
	c.WaitFenced(v)
	waitState(c, v, topic, func(l int32, isr []int32) error {
		if l != -1 {
			return fmt.Errorf("leader %d, want none", l)
		}
		return nil
	})

	adm := c.Admin(t)
	elect := func(how kadm.ElectLeadersHow) error {
		t.Helper()
		rs, err := adm.ElectLeaders(ctx(t), how, kadm.TopicsSet{topic: {0: {}}})
		if err != nil {
			t.Fatalf("ElectLeaders %v: %v", how, err)
		}
		r, ok := rs[topic][0]
		if !ok {
			t.Fatalf("ElectLeaders %v: no result for %s-0: %+v", how, topic, rs)
		}
		return r.Err
	}
	if err := elect(kadm.ElectPreferredReplica); !errors.Is(err, kerr.PreferredLeaderNotAvailable) {
		t.Fatalf("PREFERRED with the preferred replica down: %v, want PREFERRED_LEADER_NOT_AVAILABLE", err)
	}
	if err := elect(kadm.ElectLiveReplica); err != nil {
		t.Fatalf("UNCLEAN on the leaderless partition: %v", err)
	}
	waitState(c, v, topic, func(l int32, isr []int32) error {
		if l != wid || !slices.Equal(isr, []int32{wid}) {
			return fmt.Errorf("leader %d isr %v, want %d alone", l, isr, wid)
		}
		return nil
	})
	if err := elect(kadm.ElectLiveReplica); !errors.Is(err, kerr.ElectionNotNeeded) {
		t.Fatalf("UNCLEAN on a partition with a leader: %v, want ELECTION_NOT_NEEDED", err)
	}
	c.WaitFor("the unclean leader to take writes", func() error {
		if code := produceOnce(t, c, w, topic, 1, 2*time.Second); code != 0 {
			return kerr.ErrorForCode(code)
		}
		return nil
	})

	c.HealAll()
	c.Restart(v)
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if l != wid || !sameSet(isr, []int32{vid, wid}) {
			return fmt.Errorf("leader %d isr %v, want %d back in sync", l, isr, vid)
		}
		return nil
	})
	if err := elect(kadm.ElectPreferredReplica); err != nil {
		t.Fatalf("PREFERRED with the preferred replica in sync: %v", err)
	}
	waitState(c, -1, topic, func(l int32, _ []int32) error {
		if l != vid {
			return fmt.Errorf("leader %d, want the preferred %d", l, vid)
		}
		return nil
	})
	if err := elect(kadm.ElectPreferredReplica); !errors.Is(err, kerr.ElectionNotNeeded) {
		t.Fatalf("PREFERRED with the preferred replica leading: %v, want ELECTION_NOT_NEEDED", err)
	}
	// The old leader's acks=1 record went with the unclean election: both
	// logs are "a" then the new leader's "x".
	if got := consumePartition(t, c, topic, 0, 2); strings.Join(got, ",") != "a,x" {
		t.Fatalf("log after the unclean election: %v, want [a x]", got)
	}
	if end := leaderEnd(t, c, v, topic); end != 2 {
		t.Fatalf("log end %d on the preferred leader, want 2", end)
	}
}

package cluster

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadataOf asks node nd itself for the metadata of topics.
func metadataOf(t testing.TB, nd *node, topics ...string) (*kmsg.MetadataResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := cl.SeedBrokers()[0].Request(ctx(t), req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// leaderOf is the leader of partition 0 of topic as node nd reports it.
func leaderOf(t testing.TB, nd *node, topic string) (int32, error) {
	md, err := metadataOf(t, nd, topic)
	if err != nil {
		return 0, err
	}
	for _, mt := range md.Topics {
		if mt.Topic != nil && *mt.Topic == topic && len(mt.Partitions) > 0 {
			return mt.Partitions[0].Leader, nil
		}
	}
	return 0, fmt.Errorf("node %d does not know %s", nd.id, topic)
}

// createAssigned creates topic with one partition on the given replicas
// (a manual assignment: the first replica leads).
func createAssigned(t testing.TB, nd *node, topic string, replicas ...int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s on %v: %v", topic, replicas, err)
	}
}

// TestBrokerFencedAfterSIGKILL: with broker.session.timeout.ms=1000, a
// SIGKILLed broker is fenced by the active controller within about the
// session timeout: the partition it alone hosts gets leader -1, the one it
// shares with an in-sync replica moves there, and Metadata no longer
// lists it. Restarted, it registers again, is unfenced, leads its
// partition again with the record written before the kill, and rejoins
// the shared partition's ISR once caught up.
func TestBrokerFencedAfterSIGKILL(t *testing.T) {
	t.Parallel()
	const session = time.Second
	c := startClusterConfig(t, 3, electionTimeout,
		fmt.Sprintf("broker.session.timeout.ms=%d", session.Milliseconds()), "broker.heartbeat.interval.ms=200")
	lead := agreedLeader(t, c.nodes, -1)
	// The victim is a follower: the controller that fences it keeps
	// running, so the time to fence is the lease alone.
	var victim, other *node
	for _, nd := range c.nodes {
		switch {
		case nd.id == lead:
		case victim == nil:
			victim = nd
		default:
			other = nd
		}
	}
	via := c.nodes[0]
	if via == victim {
		via = other
	}
	waitFor(t, 10*time.Second, "every broker to be unfenced", func() error {
		md, err := metadataOf(t, via)
		if err != nil {
			return err
		}
		if len(md.Brokers) != 3 {
			return fmt.Errorf("%d brokers listed", len(md.Brokers))
		}
		return nil
	})
	createAssigned(t, via, "alone", victim.id)
	createAssigned(t, via, "shared", victim.id, other.id)
	for _, topic := range []string{"alone", "shared"} {
		waitFor(t, 10*time.Second, topic+" led by the victim", func() error {
			l, err := leaderOf(t, via, topic)
			if err == nil && l != victim.id {
				err = fmt.Errorf("leader %d", l)
			}
			return err
		})
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(via.addr()), kgo.DefaultProduceTopic("alone"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx(t), &kgo.Record{Value: []byte("before the kill")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	killed := time.Now()
	victim.kill()
	var fencedAfter time.Duration
	waitFor(t, 10*session, "the victim's partitions to lose it as leader", func() error {
		alone, err := leaderOf(t, via, "alone")
		if err != nil {
			return err
		}
		shared, err := leaderOf(t, via, "shared")
		if err != nil {
			return err
		}
		// RF 1 goes offline; RF 2 moves to the other replica, in sync
		// since the partition was created (it copies the leader).
		if alone != -1 || shared != other.id {
			return fmt.Errorf("alone led by %d, shared by %d", alone, shared)
		}
		fencedAfter = time.Since(killed)
		return nil
	})
	t.Logf("broker %d fenced %s after SIGKILL (session %s)", victim.id, fencedAfter, session)
	// The lease ran at most a session from the last heartbeat before the
	// kill; the check runs every tenth of it. A loaded machine gets a
	// second of slack.
	if fencedAfter > session+time.Second {
		t.Errorf("fenced %s after the kill, session timeout %s", fencedAfter, session)
	}
	if listsBroker(t, via, victim.id) {
		t.Errorf("Metadata from node %d lists the fenced broker %d", via.id, victim.id)
	}

	victim.start()
	victim.waitListening()
	waitFor(t, 10*time.Second, "the restarted broker to lead its partition again", func() error {
		l, err := leaderOf(t, via, "alone")
		if err == nil && l != victim.id {
			err = fmt.Errorf("leader %d", l)
		}
		return err
	})
	if !listsBroker(t, via, victim.id) {
		t.Errorf("Metadata from node %d does not list the unfenced broker %d", via.id, victim.id)
	}
	// The fenced broker left the shared partition's ISR; restarted, it
	// catches up with the leader that took over and that leader adds it
	// back (AlterPartition), while the leadership stays where it moved.
	waitFor(t, 10*time.Second, "the restarted broker back in the shared partition's ISR", func() error {
		md, err := metadataOf(t, via, "shared")
		if err != nil {
			return err
		}
		if len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 1 {
			return fmt.Errorf("metadata %+v", md.Topics)
		}
		p := md.Topics[0].Partitions[0]
		if p.Leader != other.id || !slices.Contains(p.ISR, victim.id) {
			return fmt.Errorf("shared led by %d with ISR %v, want %d with %d in the ISR", p.Leader, p.ISR, other.id, victim.id)
		}
		return nil
	})

	// The restarted broker serves its partition with the record written
	// before the kill (a raw Fetch without a current leader epoch).
	waitFor(t, 10*time.Second, "the record written before the kill, from the restarted broker", func() error {
		got, err := fetchFirst(t, victim, "alone")
		if err == nil && got != "before the kill" {
			err = fmt.Errorf("read %q", got)
		}
		return err
	})
}

// fetchFirst fetches partition 0 of topic from its start at node nd and
// returns the first record's value.
func fetchFirst(t testing.TB, nd *node, topic string) (string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	md, err := metadataOf(t, nd, topic)
	if err != nil {
		return "", err
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MaxBytes = -1, 100, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, md.Topics[0].TopicID // by name or by id, as the version wants
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, 0, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.SeedBrokers()[0].Request(ctx(t), req)
	if err != nil {
		return "", err
	}
	fr := resp.(*kmsg.FetchResponse)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		return "", fmt.Errorf("fetch answer %+v", fr)
	}
	p := fr.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return "", err
	}
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Topic: topic, Partition: 0}, &p, kgo.DefaultDecompressor(), nil)
	if fp.Err != nil {
		return "", fp.Err
	}
	if len(fp.Records) == 0 {
		return "", fmt.Errorf("no record (high watermark %d)", p.HighWatermark)
	}
	return string(fp.Records[0].Value), nil
}

// listsBroker reports whether nd's Metadata lists broker id.
func listsBroker(t testing.TB, nd *node, id int32) bool {
	md, err := metadataOf(t, nd)
	if err != nil {
		return true
	}
	for _, b := range md.Brokers {
		if b.NodeID == id {
			return true
		}
	}
	return false
}

// TestControlledShutdownOnSIGTERM: a broker stopped with SIGTERM asks the
// controller for a controlled shutdown (BrokerHeartbeat WantShutDown): it
// is fenced at once, not when its lease runs out (the session timeout here
// is 60 s), its partition loses it as leader, and started again it
// registers without waiting for an old lease and leads its partition with
// its data.
func TestControlledShutdownOnSIGTERM(t *testing.T) {
	t.Parallel()
	c := startClusterConfig(t, 3, electionTimeout, "broker.session.timeout.ms=60000", "broker.heartbeat.interval.ms=100")
	lead := agreedLeader(t, c.nodes, -1)
	var victim, via *node
	for _, nd := range c.nodes {
		switch {
		case nd.id == lead:
			via = nd
		case victim == nil:
			victim = nd
		}
	}
	waitFor(t, 10*time.Second, "every broker to be unfenced", func() error {
		if md, err := metadataOf(t, via); err != nil || len(md.Brokers) != 3 {
			return fmt.Errorf("brokers %v, err %v", md, err)
		}
		return nil
	})
	createAssigned(t, via, "stopped", victim.id)
	cl, err := kgo.NewClient(kgo.SeedBrokers(via.addr()), kgo.DefaultProduceTopic("stopped"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx(t), &kgo.Record{Value: []byte("before the stop")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	epochBefore := leaderEpochOf(t, via, "stopped")
	stopped := time.Now()
	victim.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-victim.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the broker did not exit within 30 s of SIGTERM")
	}
	victim.cmd = nil
	if !strings.Contains(victim.out.String(), "controlled shutdown complete") {
		t.Fatalf("no controlled shutdown in the broker's log:\n%s", tail(victim.out.String(), 3000))
	}
	if listsBroker(t, via, victim.id) {
		t.Errorf("broker %d still listed after its controlled shutdown", victim.id)
	}
	if l, err := leaderOf(t, via, "stopped"); err != nil || l != -1 {
		t.Errorf("after the controlled shutdown the partition is led by %d (err %v), want -1", l, err)
	}
	t.Logf("broker %d shut down and fenced %s after SIGTERM", victim.id, time.Since(stopped))

	victim.start()
	victim.waitListening()
	waitFor(t, 10*time.Second, "the restarted broker to lead its partition", func() error {
		l, err := leaderOf(t, via, "stopped")
		if err == nil && l != victim.id {
			err = fmt.Errorf("leader %d", l)
		}
		return err
	})
	waitFor(t, 10*time.Second, "the record written before the stop", func() error {
		got, err := fetchFirst(t, victim, "stopped")
		if err == nil && got != "before the stop" {
			err = fmt.Errorf("read %q", got)
		}
		return err
	})

	// Leadership came back under a new epoch; the leader epoch cache
	// answers OffsetForLeaderEpoch for the old one: it ended at offset 1,
	// where the current one starts.
	epochAfter := leaderEpochOf(t, via, "stopped")
	if epochAfter <= epochBefore {
		t.Fatalf("leader epoch %d after the restart, %d before", epochAfter, epochBefore)
	}
	for _, tc := range []struct{ ask, epoch int32 }{{epochBefore, epochBefore}, {epochAfter, epochAfter}} {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "stopped"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = 0, epochAfter, tc.ask
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		cl, err := kgo.NewClient(kgo.SeedBrokers(victim.addr()))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.SeedBrokers()[0].Request(ctx(t), req)
		cl.Close()
		if err != nil {
			t.Fatal(err)
		}
		p := resp.(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.LeaderEpoch != tc.epoch || p.EndOffset != 1 {
			t.Errorf("OffsetForLeaderEpoch(%d): error %d, epoch %d, end %d; want epoch %d, end 1",
				tc.ask, p.ErrorCode, p.LeaderEpoch, p.EndOffset, tc.epoch)
		}
	}
}

// leaderEpochOf is the leader epoch of partition 0 of topic as nd's
// Metadata reports it.
func leaderEpochOf(t testing.TB, nd *node, topic string) int32 {
	t.Helper()
	md, err := metadataOf(t, nd, topic)
	if err != nil {
		t.Fatal(err)
	}
	return md.Topics[0].Partitions[0].LeaderEpoch
}

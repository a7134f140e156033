package cluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// offsetsPartitions is offsets.topic.num.partitions (the default).
const offsetsPartitions = 50

// groupPartition is the __consumer_offsets partition of group as Kafka
// computes it (Utils.abs(groupId.hashCode()) % partitions), written here
// independently of the broker's code so a mismatch fails the test.
func groupPartition(group string) int32 { return kafkaPartition(group, offsetsPartitions) }

// kafkaPartition is Utils.abs(key.hashCode()) % n, Java's String hash.
func kafkaPartition(key string, n int32) int32 {
	var h int32
	for _, u := range utf16Units(key) {
		h = 31*h + int32(u)
	}
	if h == -1<<31 {
		return 0
	}
	if h < 0 {
		h = -h
	}
	return h % n
}

func utf16Units(s string) []uint16 {
	var out []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}

// direct is a client whose requests go to nd itself (its seed broker).
func direct(t testing.TB, nd *node) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ask(t testing.TB, cl *kgo.Client, req kmsg.Request) kmsg.Response {
	t.Helper()
	resp, err := cl.SeedBrokers()[0].Request(ctx(t), req)
	if err != nil {
		t.Fatalf("%T: %v", req, err)
	}
	return resp
}

// findCoordinators sends one batched FindCoordinator (v4+) for groups to
// nd and returns the answer per group.
func findCoordinators(t testing.TB, nd *node, groups []string) map[string]kmsg.FindCoordinatorResponseCoordinator {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = 4
	req.CoordinatorType = 0
	req.CoordinatorKeys = groups
	resp := ask(t, direct(t, nd), req).(*kmsg.FindCoordinatorResponse)
	out := map[string]kmsg.FindCoordinatorResponseCoordinator{}
	for _, c := range resp.Coordinators {
		out[c.Key] = c
	}
	return out
}

// offsetsLeaders waits until __consumer_offsets exists (a FindCoordinator
// creates it) and every node names a leader for each of its partitions,
// the same on every node, and returns them.
func offsetsLeaders(t testing.TB, c *testCluster) map[int32]int32 {
	t.Helper()
	var leaders map[int32]int32
	waitFor(t, 15*time.Second, "__consumer_offsets with a leader per partition on every node", func() error {
		for _, nd := range c.nodes {
			if fc := findCoordinators(t, nd, []string{"probe"})["probe"]; fc.ErrorCode != 0 {
				return fmt.Errorf("node %d: FindCoordinator: %v", nd.id, kerr.ErrorForCode(fc.ErrorCode))
			}
		}
		var first map[int32]int32
		for _, nd := range c.nodes {
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr("__consumer_offsets")
			req.Topics = append(req.Topics, rt)
			md := ask(t, direct(t, nd), req).(*kmsg.MetadataResponse)
			if len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 || len(md.Topics[0].Partitions) != offsetsPartitions {
				return fmt.Errorf("node %d: __consumer_offsets not complete yet", nd.id)
			}
			m := map[int32]int32{}
			for _, p := range md.Topics[0].Partitions {
				if p.Leader < 0 || len(p.Replicas) != 3 {
					return fmt.Errorf("node %d: partition %d leader %d replicas %v", nd.id, p.Partition, p.Leader, p.Replicas)
				}
				m[p.Partition] = p.Leader
			}
			if first != nil && !mapsEqual(first, m) {
				return fmt.Errorf("nodes disagree on the leaders")
			}
			first = m
		}
		leaders = first
		return nil
	})
	return leaders
}

func mapsEqual(a, b map[int32]int32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func nodeByID(c *testCluster, id int32) *node {
	for _, nd := range c.nodes {
		if nd.id == id {
			return nd
		}
	}
	return nil
}

// groupOn returns a group id (with prefix) whose __consumer_offsets
// partition broker id leads.
func groupOn(t testing.TB, leaders map[int32]int32, prefix string, id int32) string {
	for i := range 10000 {
		g := prefix + strconv.Itoa(i)
		if leaders[groupPartition(g)] == id {
			return g
		}
	}
	t.Fatalf("no group id leads on broker %d", id)
	return ""
}

// TestFindCoordinatorNamesTheLeader: on three nodes (offsets.topic.
// replication.factor 3 by default), FindCoordinator from every node, batched
// (v4+) and single (v3), names for each group the leader of its
// __consumer_offsets partition at that broker's address; group requests at
// another broker get NOT_COORDINATOR and ListGroups lists a group only on
// its coordinator.
func TestFindCoordinatorNamesTheLeader(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	leaders := offsetsLeaders(t, c)
	used := map[int32]bool{}
	for _, l := range leaders {
		used[l] = true
	}
	if len(used) != 3 {
		t.Fatalf("__consumer_offsets led by %d brokers only: %v", len(used), leaders)
	}

	var groups []string
	for i := range 30 {
		groups = append(groups, fmt.Sprintf("group-%d", i))
	}
	for _, nd := range c.nodes {
		got := findCoordinators(t, nd, groups)
		for _, g := range groups {
			fc, want := got[g], leaders[groupPartition(g)]
			at := nodeByID(c, want)
			if fc.ErrorCode != 0 || fc.NodeID != want || fc.Host != "127.0.0.1" || fc.Port != int32(at.client) {
				t.Fatalf("node %d: FindCoordinator(%s) = node %d %s:%d code %d, want node %d (partition %d) at %s",
					nd.id, g, fc.NodeID, fc.Host, fc.Port, fc.ErrorCode, want, groupPartition(g), at.addr())
			}
		}
		// A client of Kafka 2.8 sends FindCoordinator v3: one key.
		old, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()), kgo.MaxVersions(kversion.V2_8_0()))
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = groups[0]
		r3 := ask(t, old, req).(*kmsg.FindCoordinatorResponse)
		if r3.Version != 3 {
			t.Fatalf("sent FindCoordinator v%d, want v3", r3.Version)
		}
		if want := leaders[groupPartition(groups[0])]; r3.ErrorCode != 0 || r3.NodeID != want {
			t.Fatalf("node %d: FindCoordinator v3 = node %d code %d, want %d", nd.id, r3.NodeID, r3.ErrorCode, want)
		}
	}

	// A simple (memberless) offset commit at the coordinator works; the
	// same group's requests at the other brokers get NOT_COORDINATOR.
	g := groups[0]
	coord := nodeByID(c, leaders[groupPartition(g)])
	topic := "nc"
	if _, err := c.nodes[0].admin(t).CreateTopic(ctx(t), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	commit := func(nd *node) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = g, -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 7
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return ask(t, direct(t, nd), req).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	waitFor(t, 10*time.Second, "the coordinator to know the topic and accept a commit", func() error {
		return kerr.ErrorForCode(commit(coord))
	})
	for _, nd := range c.nodes {
		if nd == coord {
			continue
		}
		if code := commit(nd); code != kerr.NotCoordinator.Code {
			t.Fatalf("OffsetCommit at node %d (coordinator %d): code %d, want NOT_COORDINATOR", nd.id, coord.id, code)
		}
		fetch := kmsg.NewPtrOffsetFetchRequest()
		fetch.Version = 8
		fg := kmsg.NewOffsetFetchRequestGroup()
		fg.Group = g
		fetch.Groups = append(fetch.Groups, fg)
		if r := ask(t, direct(t, nd), fetch).(*kmsg.OffsetFetchResponse); r.Groups[0].ErrorCode != kerr.NotCoordinator.Code {
			t.Fatalf("OffsetFetch at node %d: code %d, want NOT_COORDINATOR", nd.id, r.Groups[0].ErrorCode)
		}
		join := kmsg.NewPtrJoinGroupRequest()
		join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = g, "consumer", 10000, 10000
		jp := kmsg.NewJoinGroupRequestProtocol()
		jp.Name = "range"
		join.Protocols = append(join.Protocols, jp)
		if r := ask(t, direct(t, nd), join).(*kmsg.JoinGroupResponse); r.ErrorCode != kerr.NotCoordinator.Code {
			t.Fatalf("JoinGroup at node %d: code %d, want NOT_COORDINATOR", nd.id, r.ErrorCode)
		}
		dg := kmsg.NewPtrDescribeGroupsRequest()
		dg.Groups = []string{g}
		if r := ask(t, direct(t, nd), dg).(*kmsg.DescribeGroupsResponse); r.Groups[0].ErrorCode != kerr.NotCoordinator.Code {
			t.Fatalf("DescribeGroups at node %d: code %d, want NOT_COORDINATOR", nd.id, r.Groups[0].ErrorCode)
		}
		cgd := kmsg.NewPtrConsumerGroupDescribeRequest()
		cgd.Groups = []string{g}
		if r := ask(t, direct(t, nd), cgd).(*kmsg.ConsumerGroupDescribeResponse); r.Groups[0].ErrorCode != kerr.NotCoordinator.Code {
			t.Fatalf("ConsumerGroupDescribe at node %d: code %d, want NOT_COORDINATOR", nd.id, r.Groups[0].ErrorCode)
		}
	}
	for _, nd := range c.nodes {
		lg := ask(t, direct(t, nd), kmsg.NewPtrListGroupsRequest()).(*kmsg.ListGroupsResponse)
		listed := slices.ContainsFunc(lg.Groups, func(x kmsg.ListGroupsResponseGroup) bool { return x.Group == g })
		if lg.ErrorCode != 0 || listed != (nd == coord) {
			t.Fatalf("ListGroups at node %d (coordinator %d): code %d, lists %s: %v", nd.id, coord.id, lg.ErrorCode, g, listed)
		}
	}
	// A client that knows nothing finds the committed offset.
	offs, err := c.nodes[0].admin(t).FetchOffsets(ctx(t), g)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(topic, 0); !ok || o.At != 7 {
		t.Fatalf("committed offset through kadm: %+v %v", o, ok)
	}
}

// groupAcrossBrokers runs one group protocol against three nodes: the
// topic's partitions lead on two brokers, the group's coordinator is the
// third; a consumer reads everything and commits, then a second consumer
// of the group, after more records, reads exactly the new ones.
func groupAcrossBrokers(t *testing.T, protocolOpts ...kgo.Opt) (coord int32, group string, c *testCluster) {
	c = startCluster(t, 3)
	leaders := offsetsLeaders(t, c)
	coordNode, a, b := c.nodes[2], c.nodes[0], c.nodes[1]
	group = groupOn(t, leaders, "grp-", coordNode.id)
	topic := "data"
	adm := a.admin(t)
	// Manual placement: partitions alternate between a and b only.
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	for p, id := range []int32{a.id, b.id, a.id, b.id} {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = int32(p), []int32{id}
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	cr, err := req.RequestWith(ctx(t), direct(t, a))
	if err != nil || (cr.Topics[0].ErrorCode != 0 && cr.Topics[0].ErrorCode != kerr.TopicAlreadyExists.Code) {
		t.Fatalf("create %s: %v %+v", topic, err, cr)
	}
	waitFor(t, 10*time.Second, "every node to see the topic's leaders", func() error {
		for _, nd := range c.nodes {
			md, err := nd.admin(t).Metadata(ctx(t), topic)
			if err != nil {
				return err
			}
			ps := md.Topics[topic].Partitions
			if len(ps) != 4 {
				return fmt.Errorf("node %d: %d partitions", nd.id, len(ps))
			}
			for _, p := range ps {
				if p.Leader == coordNode.id || p.Leader < 0 {
					return fmt.Errorf("partition %d led by %d", p.Partition, p.Leader)
				}
			}
		}
		return nil
	})

	prod, err := kgo.NewClient(kgo.SeedBrokers(a.addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(round int) map[string]bool {
		want := map[string]bool{}
		for p := range int32(4) {
			for i := range 10 {
				v := fmt.Sprintf("r%d-p%d-%d", round, p, i)
				want[v] = true
				if err := prod.ProduceSync(ctx(t), &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
					t.Fatalf("produce %s: %v", v, err)
				}
			}
		}
		return want
	}
	consume := func(name string, want map[string]bool) {
		opts := append([]kgo.Opt{
			kgo.SeedBrokers(b.addr()), // bootstrapped with a broker that is not the coordinator
			kgo.ClientID(name),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.DisableAutoCommit(),
			kgo.FetchMaxWait(200 * time.Millisecond),
		}, protocolOpts...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		got := map[string]bool{}
		pctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for len(got) < len(want) {
			fs := cl.PollFetches(pctx)
			if pctx.Err() != nil {
				t.Fatalf("%s: consumed %d of %d records", name, len(got), len(want))
			}
			fs.EachError(func(tp string, p int32, err error) { t.Logf("%s: fetch %s/%d: %v", name, tp, p, err) })
			fs.EachRecord(func(r *kgo.Record) {
				v := string(r.Value)
				if !want[v] || got[v] {
					t.Fatalf("%s read %q at %s/%d offset %d: lost commit or re-read", name, v, r.Topic, r.Partition, r.Offset)
				}
				got[v] = true
			})
		}
		if err := cl.CommitUncommittedOffsets(ctx(t)); err != nil {
			t.Fatalf("%s: commit: %v", name, err)
		}
		// The group lives on the coordinator only.
		checkGroupOnlyAt(t, c, coordNode, group)
	}
	consume("first", produce(1))

	offs, err := adm.FetchOffsets(ctx(t), group)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(4) {
		if o, ok := offs.Lookup(topic, p); !ok || o.At != 10 {
			t.Fatalf("committed offset of partition %d: %+v %v", p, o, ok)
		}
	}
	consume("second", produce(2))
	return coordNode.id, group, c
}

// checkGroupOnlyAt: the coordinator describes the group; the other
// brokers answer NOT_COORDINATOR.
func checkGroupOnlyAt(t *testing.T, c *testCluster, coord *node, group string) {
	t.Helper()
	for _, nd := range c.nodes {
		dg := kmsg.NewPtrDescribeGroupsRequest()
		dg.Groups = []string{group}
		r := ask(t, direct(t, nd), dg).(*kmsg.DescribeGroupsResponse).Groups[0]
		want := int16(0)
		if nd != coord {
			want = kerr.NotCoordinator.Code
		}
		if r.ErrorCode != want || (nd == coord && r.State == "Dead") {
			t.Fatalf("DescribeGroups(%s) at node %d (coordinator %d): code %d state %s", group, nd.id, coord.id, r.ErrorCode, r.State)
		}
	}
}

// TestClassicGroupCoordinatorElsewhere: a classic consumer group
// (JoinGroup/SyncGroup) whose coordinator leads none of the topic's
// partitions consumes, commits, and a second consumer resumes exactly at
// the commit.
func TestClassicGroupCoordinatorElsewhere(t *testing.T) {
	t.Parallel()
	coord, group, c := groupAcrossBrokers(t)
	r := describeAt(t, nodeByID(c, coord), group)
	if r.ProtocolType != "consumer" {
		t.Fatalf("classic group described as %+v", r)
	}
}

// TestConsumerGroup848CoordinatorElsewhere: the same with the KIP-848
// consumer protocol (ConsumerGroupHeartbeat, server-side assignment).
func TestConsumerGroup848CoordinatorElsewhere(t *testing.T) {
	t.Parallel()
	coord, group, c := groupAcrossBrokers(t, kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer())
	// The group is a KIP-848 consumer group on the coordinator.
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	g := ask(t, direct(t, nodeByID(c, coord)), req).(*kmsg.ConsumerGroupDescribeResponse).Groups[0]
	if g.ErrorCode != 0 || g.Epoch == 0 {
		t.Fatalf("ConsumerGroupDescribe at the coordinator: %+v", g)
	}
}

func describeAt(t *testing.T, nd *node, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{group}
	return ask(t, direct(t, nd), dg).(*kmsg.DescribeGroupsResponse).Groups[0]
}

// TestCoordinatorMovesWithLeadership: when the leader of a group's
// __consumer_offsets partition changes, the coordinator moves with it: the
// leader's broker dies and is fenced, and the controller elects another
// in-sync replica (every replica of a new partition is in sync, and
// followers copy it). FindCoordinator on every node then names it, it
// serves the group, and the old broker, back, answers NOT_COORDINATOR.
func TestCoordinatorMovesWithLeadership(t *testing.T) {
	t.Parallel()
	c := startClusterConfig(t, 3, electionTimeout, "broker.session.timeout.ms=1000", "broker.heartbeat.interval.ms=200")
	leaders := offsetsLeaders(t, c)
	oldNode := c.nodes[0]
	g := groupOn(t, leaders, "moving-", oldNode.id)
	live := c.nodes[1:]

	joinReq := func(member string) *kmsg.JoinGroupRequest {
		join := kmsg.NewPtrJoinGroupRequest()
		join.Group, join.MemberID, join.ProtocolType = g, member, "consumer"
		join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 10000, 10000
		jp := kmsg.NewJoinGroupRequestProtocol()
		jp.Name = "range"
		join.Protocols = append(join.Protocols, jp)
		return join
	}
	if first := ask(t, direct(t, oldNode), joinReq("")).(*kmsg.JoinGroupResponse); first.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("first join: code %d", first.ErrorCode)
	}

	oldNode.kill()
	var newLeader int32
	waitFor(t, 15*time.Second, "every live node to name the new coordinator", func() error {
		newLeader = -1
		for _, nd := range live {
			fc := findCoordinators(t, nd, []string{g})[g]
			if fc.ErrorCode != 0 || fc.NodeID == oldNode.id || (newLeader != -1 && fc.NodeID != newLeader) {
				return fmt.Errorf("node %d names %d (code %d)", nd.id, fc.NodeID, fc.ErrorCode)
			}
			newLeader = fc.NodeID
		}
		return nil
	})
	var newNode *node
	for _, nd := range live {
		if nd.id == newLeader {
			newNode = nd
		}
	}
	// The new leader serves the group.
	waitFor(t, 10*time.Second, "the new coordinator to serve the group", func() error {
		j := ask(t, direct(t, newNode), joinReq("")).(*kmsg.JoinGroupResponse)
		if j.ErrorCode != kerr.MemberIDRequired.Code {
			return kerr.ErrorForCode(j.ErrorCode)
		}
		return nil
	})
	oldNode.start()
	oldNode.waitListening()
	waitFor(t, 10*time.Second, "the old coordinator to refuse the group", func() error {
		if d := describeAt(t, oldNode, g); d.ErrorCode != kerr.NotCoordinator.Code {
			return fmt.Errorf("old coordinator describes the group: code %d", d.ErrorCode)
		}
		return nil
	})
}

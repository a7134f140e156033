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

// txnStatePartitions is transaction.state.log.num.partitions in these
// tests (fewer than Kafka's 50: every broker replays its share at start).
const txnStatePartitions = 6

// txnPartition is the __transaction_state partition of a transactional id
// as Kafka computes it, written independently of the broker's code.
func txnPartition(id string) int32 { return kafkaPartition(id, txnStatePartitions) }

// txnStateLeaders waits until __transaction_state exists (FindCoordinator
// for a transactional id creates it) with a leader for each partition, the
// same on every node, and returns the leaders and leader epochs.
func txnStateLeaders(t testing.TB, c *testCluster) (leaders, epochs map[int32]int32) {
	t.Helper()
	waitFor(t, 15*time.Second, "__transaction_state with a leader per partition on every node", func() error {
		for _, nd := range c.nodes {
			if fc := findTxnCoordinator(t, nd, "probe"); fc.ErrorCode != 0 {
				return fmt.Errorf("node %d: FindCoordinator: %v", nd.id, kerr.ErrorForCode(fc.ErrorCode))
			}
		}
		var first map[int32]int32
		for _, nd := range c.nodes {
			md, err := metadataOf(t, nd, "__transaction_state")
			if err != nil {
				return err
			}
			if len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 || len(md.Topics[0].Partitions) != txnStatePartitions {
				return fmt.Errorf("node %d: __transaction_state not complete yet: %+v", nd.id, md.Topics)
			}
			m, e := map[int32]int32{}, map[int32]int32{}
			for _, p := range md.Topics[0].Partitions {
				if p.Leader < 0 || len(p.Replicas) != 3 {
					return fmt.Errorf("node %d: partition %d leader %d replicas %v", nd.id, p.Partition, p.Leader, p.Replicas)
				}
				m[p.Partition], e[p.Partition] = p.Leader, p.LeaderEpoch
			}
			if first != nil && !mapsEqual(first, m) {
				return fmt.Errorf("nodes disagree on the leaders")
			}
			first, epochs = m, e
		}
		leaders = first
		return nil
	})
	return leaders, epochs
}

// findTxnCoordinator is FindCoordinator for a transactional id at nd (the
// batched form: kgo sends the highest version both sides know).
func findTxnCoordinator(t testing.TB, nd *node, id string) kmsg.FindCoordinatorResponseCoordinator {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType, req.CoordinatorKeys = 1, []string{id}
	resp := ask(t, direct(t, nd), req).(*kmsg.FindCoordinatorResponse)
	if len(resp.Coordinators) != 1 {
		t.Fatalf("FindCoordinator at node %d: %+v", nd.id, resp)
	}
	return resp.Coordinators[0]
}

// createOnePerBroker creates topic with one partition led by each node, in
// node order (replication factor 1).
func createOnePerBroker(t testing.TB, c *testCluster, topic string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	for p, nd := range c.nodes {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = int32(p), []int32{nd.id}
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	}
	req.Topics = append(req.Topics, rt)
	resp := ask(t, direct(t, c.nodes[0]), req).(*kmsg.CreateTopicsResponse)
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	waitFor(t, 10*time.Second, "every node to see "+topic+"'s leaders", func() error {
		for _, nd := range c.nodes {
			md, err := metadataOf(t, nd, topic)
			if err != nil {
				return err
			}
			if len(md.Topics) != 1 || len(md.Topics[0].Partitions) != len(c.nodes) {
				return fmt.Errorf("node %d: %s not complete yet", nd.id, topic)
			}
			for _, p := range md.Topics[0].Partitions {
				if p.Leader != c.nodes[p.Partition].id {
					return fmt.Errorf("node %d: partition %d led by %d", nd.id, p.Partition, p.Leader)
				}
			}
		}
		return nil
	})
}

// consumeValues reads every partition of topic from the start through a
// client bootstrapped at nd until it has n records (and then briefly for
// more), at the given isolation level.
func consumeValues(t testing.TB, nd *node, topic string, parts, n int, committed bool) []string {
	t.Helper()
	offs := map[int32]kgo.Offset{}
	for p := range parts {
		offs[int32(p)] = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{kgo.SeedBrokers(nd.addr()), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs})}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n {
		pctx, cancel := context.WithDeadline(context.Background(), deadline)
		fs := cl.PollFetches(pctx)
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d records of %s (read_committed %v): %v", len(out), n, topic, committed, out)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	// Anything beyond n would be a record that should not be there.
	pctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	slices.Sort(out)
	return out
}

// TestTxnAcrossBrokers: on three nodes, transactional producers
// bootstrapped at a broker that coordinates neither their transactions
// nor most of their data write to a topic with one partition led by each
// broker, one producer on transaction version 2 and one capped at Kafka
// 3.9 (version 1), each coordinated by another broker. A committed
// transaction spanning all three partitions is seen whole by
// read_committed; an aborted one is invisible to read_committed while
// read_uncommitted sees its records, each followed by an abort marker
// written by the coordinator through WriteTxnMarkers to the partition's
// leader (Fetch lists the aborted transaction, and the last stable offset
// reaches the end: nothing hangs). The markers carry the coordinator epoch
// (the __transaction_state partition's leader epoch). FindCoordinator at
// every broker names the coordinator; InitProducerId elsewhere gets
// NOT_COORDINATOR, and only the coordinator describes and lists the id.
func TestTxnAcrossBrokers(t *testing.T) {
	t.Parallel()
	c := startClusterConfig(t, 3, electionTimeout, "transaction.state.log.num.partitions="+strconv.Itoa(txnStatePartitions))
	agreedLeader(t, c.nodes, -1)
	leaders, epochs := txnStateLeaders(t, c)
	const topic = "txn-spread"
	createOnePerBroker(t, c, topic)

	// Two producers bootstrapped at node 3: one on transaction version 2
	// (Produce v12 adds each partition through its leader, which asks
	// the coordinator with AddPartitionsToTxn v5), coordinated by node 2;
	// one capped at Kafka 3.9's versions (AddPartitionsToTxn from the
	// client, and each partition leader verifies its first batch with
	// the coordinator, KIP-890 part 1), coordinated by node 1.
	seed := c.nodes[2]
	idOn := func(prefix string, coord int32) string {
		for i := range 10000 {
			if cand := prefix + strconv.Itoa(i); leaders[txnPartition(cand)] == coord {
				return cand
			}
		}
		t.Fatalf("no transactional id coordinated by node %d: %v", coord, leaders)
		return ""
	}
	type producer struct {
		name  string
		id    string
		coord *node
		opts  []kgo.Opt
	}
	producers := []producer{
		{"tv2", idOn("txn-tv2-", c.nodes[1].id), c.nodes[1], nil},
		{"tv1", idOn("txn-tv1-", c.nodes[0].id), c.nodes[0], []kgo.Opt{kgo.MaxVersions(kversion.V3_9_0())}},
	}
	for _, pr := range producers {
		for _, nd := range c.nodes {
			if fc := findTxnCoordinator(t, nd, pr.id); fc.ErrorCode != 0 || fc.NodeID != pr.coord.id || fc.Port != int32(pr.coord.client) {
				t.Fatalf("FindCoordinator(%s) at node %d: %v node %d port %d, want node %d port %d",
					pr.id, nd.id, kerr.ErrorForCode(fc.ErrorCode), fc.NodeID, fc.Port, pr.coord.id, pr.coord.client)
			}
			if nd == pr.coord {
				continue
			}
			init := kmsg.NewPtrInitProducerIDRequest()
			init.TransactionalID, init.TransactionTimeoutMillis = &pr.id, 30000
			if got := ask(t, direct(t, nd), init).(*kmsg.InitProducerIDResponse); got.ErrorCode != kerr.NotCoordinator.Code {
				t.Fatalf("InitProducerId(%s) at node %d, not the coordinator: %v", pr.id, nd.id, kerr.ErrorForCode(got.ErrorCode))
			}
		}
	}

	var want, wantAll []string
	for _, pr := range producers {
		opts := append([]kgo.Opt{kgo.SeedBrokers(seed.addr()), kgo.TransactionalID(pr.id), kgo.TransactionTimeout(20 * time.Second),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(topic)}, pr.opts...)
		prod, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		runTxn := func(prefix string, commit bool) {
			t.Helper()
			cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := prod.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			for p := range int32(3) {
				v := fmt.Sprintf("%s-%s-%d", pr.name, prefix, p)
				if err := prod.ProduceSync(cctx, &kgo.Record{Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
					t.Fatalf("%s: produce to partition %d: %v", v, p, err)
				}
				if commit {
					want = append(want, v)
				}
				wantAll = append(wantAll, v)
			}
			if err := prod.EndTransaction(cctx, kgo.TransactionEndTry(commit)); err != nil {
				t.Fatalf("%s %s: end transaction (commit %v): %v", pr.name, prefix, commit, err)
			}
		}
		runTxn("committed", true)
		runTxn("aborted", false)
		runTxn("again", true) // begins while the abort's markers may still be in flight
		prod.Close()
	}
	slices.Sort(want)
	slices.Sort(wantAll)
	other := c.nodes[0]
	if got := consumeValues(t, other, topic, 3, len(want), true); !slices.Equal(got, want) {
		t.Fatalf("read_committed: %v, want %v", got, want)
	}
	if got := consumeValues(t, other, topic, 3, len(wantAll), false); !slices.Equal(got, wantAll) {
		t.Fatalf("read_uncommitted: %v, want %v", got, wantAll)
	}

	// Each partition, at its leader, per producer: record, marker,
	// record, abort marker, record, marker. The LSO reaches the end once
	// the last marker is written; each aborted record (offsets 2 and 8)
	// is listed as aborted for read_committed fetches, and each producer
	// carries its coordinator's epoch from its last marker.
	md, err := metadataOf(t, other, topic)
	if err != nil {
		t.Fatal(err)
	}
	pids := map[int64]bool{}
	for p, nd := range c.nodes {
		waitFor(t, 10*time.Second, fmt.Sprintf("partition %d's markers", p), func() error {
			fr := kmsg.NewPtrFetchRequest()
			fr.IsolationLevel, fr.MaxBytes, fr.MaxWaitMillis, fr.ReplicaID = 1, 1<<20, 0, -1
			ft := kmsg.NewFetchRequestTopic()
			ft.Topic, ft.TopicID = topic, md.Topics[0].TopicID // kgo sends the highest version: v13+ names topics by id
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.PartitionMaxBytes = int32(p), 1<<20
			ft.Partitions = append(ft.Partitions, fp)
			fr.Topics = append(fr.Topics, ft)
			rp := ask(t, direct(t, nd), fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
			if rp.ErrorCode != 0 || rp.HighWatermark != 12 || rp.LastStableOffset != 12 {
				return fmt.Errorf("%v HW %d LSO %d", kerr.ErrorForCode(rp.ErrorCode), rp.HighWatermark, rp.LastStableOffset)
			}
			at := rp.AbortedTransactions
			if len(at) != 2 || at[0].FirstOffset+at[1].FirstOffset != 10 || at[0].ProducerID == at[1].ProducerID {
				return fmt.Errorf("aborted transactions %+v", at)
			}
			for _, a := range at {
				pids[a.ProducerID] = true
			}
			return nil
		})
		dp := kmsg.NewPtrDescribeProducersRequest()
		dt := kmsg.NewDescribeProducersRequestTopic()
		dt.Topic, dt.Partitions = topic, []int32{int32(p)}
		dp.Topics = append(dp.Topics, dt)
		dr := ask(t, direct(t, nd), dp).(*kmsg.DescribeProducersResponse).Topics[0].Partitions[0]
		if dr.ErrorCode != 0 || len(dr.ActiveProducers) != 2 {
			t.Fatalf("partition %d producers: %v %+v", p, kerr.ErrorForCode(dr.ErrorCode), dr.ActiveProducers)
		}
		coordEpochs := map[int32]bool{}
		for _, pr := range producers {
			coordEpochs[epochs[txnPartition(pr.id)]] = true
		}
		for _, ap := range dr.ActiveProducers {
			if !pids[ap.ProducerID] || !coordEpochs[ap.CoordinatorEpoch] || ap.CurrentTxnStartOffset != -1 {
				t.Fatalf("partition %d producer %+v (producers %v, coordinator epochs %v)", p, ap, pids, coordEpochs)
			}
		}
	}
	if len(pids) != 2 {
		t.Fatalf("aborted producers %v", pids)
	}

	// Only the coordinator describes and lists a transaction.
	for _, pr := range producers {
		describe := func(nd *node) kmsg.DescribeTransactionsResponseTransactionState {
			req := kmsg.NewPtrDescribeTransactionsRequest()
			req.TransactionalIDs = []string{pr.id}
			return ask(t, direct(t, nd), req).(*kmsg.DescribeTransactionsResponse).TransactionStates[0]
		}
		waitFor(t, 10*time.Second, pr.id+"'s last transaction to complete", func() error {
			if st := describe(pr.coord); st.ErrorCode != 0 || st.State != "CompleteCommit" || !pids[st.ProducerID] {
				return fmt.Errorf("%v state %s producer %d", kerr.ErrorForCode(st.ErrorCode), st.State, st.ProducerID)
			}
			return nil
		})
		for _, nd := range c.nodes {
			lt := ask(t, direct(t, nd), kmsg.NewPtrListTransactionsRequest()).(*kmsg.ListTransactionsResponse)
			listed := slices.ContainsFunc(lt.TransactionStates, func(s kmsg.ListTransactionsResponseTransactionState) bool {
				return s.TransactionalID == pr.id
			})
			if listed != (nd == pr.coord) {
				t.Fatalf("node %d lists %s: %v (its coordinator is node %d)", nd.id, pr.id, listed, pr.coord.id)
			}
			if nd == pr.coord {
				continue
			}
			if st := describe(nd); st.ErrorCode != kerr.NotCoordinator.Code {
				t.Fatalf("DescribeTransactions(%s) at node %d: %v", pr.id, nd.id, kerr.ErrorForCode(st.ErrorCode))
			}
		}
	}
}

// TestProducerIDsFromController: producer ids come in blocks from the
// active controller. InitProducerId at every broker, the two that are not
// the metadata quorum's leader included (they get their blocks with
// AllocateProducerIds from it), hands out 50 producer ids with no
// duplicates, each broker from blocks of its own. AllocateProducerIds
// itself is NOT_CONTROLLER off the leader and STALE_BROKER_EPOCH with a
// wrong broker epoch.
func TestProducerIDsFromController(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	leader := agreedLeader(t, c.nodes, -1)
	seen := map[int64]int32{}
	blocks := map[int64]int32{} // block start -> the broker handing out its ids
	clients := map[int32]*kgo.Client{}
	for _, nd := range c.nodes {
		clients[nd.id] = direct(t, nd)
	}
	for i := range 50 {
		nd := c.nodes[i%3]
		resp := ask(t, clients[nd.id], kmsg.NewPtrInitProducerIDRequest()).(*kmsg.InitProducerIDResponse)
		if resp.ErrorCode != 0 || resp.ProducerID < 0 || resp.ProducerEpoch != 0 {
			t.Fatalf("InitProducerId %d at node %d (quorum leader %d): %v id %d epoch %d",
				i, nd.id, leader, kerr.ErrorForCode(resp.ErrorCode), resp.ProducerID, resp.ProducerEpoch)
		}
		if by, dup := seen[resp.ProducerID]; dup {
			t.Fatalf("producer id %d handed out by node %d and again by node %d", resp.ProducerID, by, nd.id)
		}
		seen[resp.ProducerID] = nd.id
		block := resp.ProducerID / 1000 * 1000
		if by, ok := blocks[block]; ok && by != nd.id {
			t.Fatalf("producer id block %d used by nodes %d and %d", block, by, nd.id)
		}
		blocks[block] = nd.id
	}
	if len(blocks) != 3 {
		t.Fatalf("%d blocks for 3 brokers: %v", len(blocks), blocks)
	}

	for _, nd := range c.nodes {
		req := kmsg.NewPtrAllocateProducerIDsRequest()
		req.BrokerID, req.BrokerEpoch = nd.id, -5
		resp := ask(t, clients[nd.id], req).(*kmsg.AllocateProducerIDsResponse)
		want := kerr.NotController.Code
		if nd.id == leader {
			want = kerr.StaleBrokerEpoch.Code
		}
		if resp.ErrorCode != want {
			t.Fatalf("AllocateProducerIds at node %d (leader %d): %v, want %v", nd.id, leader, kerr.ErrorForCode(resp.ErrorCode), kerr.ErrorForCode(want))
		}
	}
}

// TestTxnCoordinatorMovesWithLeadership: when the leadership of a
// __transaction_state partition moves (its leader killed and fenced: the
// controller elects another in-sync replica, which has copied the
// partition), the other brokers name the new leader, which serves the
// transactional id, its markers carrying the partition's new leader epoch
// as coordinator epoch. The old leader, restarted, answers
// NOT_COORDINATOR.
func TestTxnCoordinatorMovesWithLeadership(t *testing.T) {
	t.Parallel()
	c := startClusterConfig(t, 3, electionTimeout, "transaction.state.log.num.partitions="+strconv.Itoa(txnStatePartitions),
		"broker.session.timeout.ms=1000", "broker.heartbeat.interval.ms=200")
	leaders, _ := txnStateLeaders(t, c)
	oldNode, dataNode := c.nodes[0], c.nodes[2]
	live := c.nodes[1:]
	var id string
	for i := range 10000 {
		if cand := "txn-moving-" + strconv.Itoa(i); leaders[txnPartition(cand)] == oldNode.id {
			id = cand
			break
		}
	}
	p := txnPartition(id)
	const topic = "moving-data"
	createAssigned(t, c.nodes[1], topic, dataNode.id)

	commitOne := func(seed *node, value string) {
		t.Helper()
		prod, err := kgo.NewClient(kgo.SeedBrokers(seed.addr()), kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer prod.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := prod.ProduceSync(cctx, &kgo.Record{Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", value, err)
		}
		if err := prod.EndTransaction(cctx, kgo.TryCommit); err != nil {
			t.Fatalf("commit %s: %v", value, err)
		}
	}
	commitOne(dataNode, "before")
	// EndTxn is answered once the commit is decided; its marker follows.
	// The new leader's replica will not know the transaction (no
	// replication yet), so only a completed one may be left behind.
	waitFor(t, 10*time.Second, "the first transaction to complete", func() error {
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{id}
		st := ask(t, direct(t, oldNode), req).(*kmsg.DescribeTransactionsResponse).TransactionStates[0]
		if st.ErrorCode != 0 || st.State != "CompleteCommit" {
			return fmt.Errorf("%v state %s", kerr.ErrorForCode(st.ErrorCode), st.State)
		}
		return nil
	})

	oldNode.kill()
	// Once it is fenced the controller moves the leadership to another
	// in-sync replica (every replica of a new partition is in sync).
	var newLeader, epoch int32
	waitFor(t, 15*time.Second, "every live node to name the new coordinator", func() error {
		newLeader = -1
		for _, nd := range live {
			fc := findTxnCoordinator(t, nd, id)
			if fc.ErrorCode != 0 || fc.NodeID == oldNode.id || (newLeader != -1 && fc.NodeID != newLeader) {
				return fmt.Errorf("node %d names %d (%v)", nd.id, fc.NodeID, kerr.ErrorForCode(fc.ErrorCode))
			}
			newLeader = fc.NodeID
		}
		md, err := metadataOf(t, live[0], "__transaction_state")
		if err != nil {
			return err
		}
		epoch = md.Topics[0].Partitions[p].LeaderEpoch
		return nil
	})
	if epoch < 1 {
		t.Fatalf("leader epoch %d after the election", epoch)
	}

	commitOne(dataNode, "after") // the client finds the new coordinator
	if got := consumeValues(t, dataNode, topic, 1, 2, true); !slices.Equal(got, []string{"after", "before"}) {
		t.Fatalf("read_committed: %v", got)
	}
	dp := kmsg.NewPtrDescribeProducersRequest()
	dt := kmsg.NewDescribeProducersRequestTopic()
	dt.Topic, dt.Partitions = topic, []int32{0}
	dp.Topics = append(dp.Topics, dt)
	dr := ask(t, direct(t, dataNode), dp).(*kmsg.DescribeProducersResponse).Topics[0].Partitions[0]
	found := false
	for _, ap := range dr.ActiveProducers {
		found = found || ap.CoordinatorEpoch == epoch
	}
	if dr.ErrorCode != 0 || !found {
		t.Fatalf("no producer whose markers carry coordinator epoch %d: %+v", epoch, dr.ActiveProducers)
	}

	oldNode.start()
	oldNode.waitListening()
	waitFor(t, 10*time.Second, "the old coordinator, restarted, to refuse the id", func() error {
		init := kmsg.NewPtrInitProducerIDRequest()
		init.TransactionalID, init.TransactionTimeoutMillis = &id, 30000
		if got := ask(t, direct(t, oldNode), init).(*kmsg.InitProducerIDResponse); got.ErrorCode != kerr.NotCoordinator.Code {
			return fmt.Errorf("InitProducerId at the old coordinator: %v", kerr.ErrorForCode(got.ErrorCode))
		}
		return nil
	})
}

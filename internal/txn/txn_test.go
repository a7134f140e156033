package txn

import (
	"errors"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/replica"
)

// env is a coordinator over real metadata, controller and partitions in
// a temporary directory, with a fake clock and no group coordinator.
type env struct {
	t     *testing.T
	dir   string
	meta  *metadata.Store
	parts *replica.Manager
	ctl   *controller.Controller
	c     *Coordinator
	now   time.Time
	// groups is the group coordinator the transaction coordinator is
	// given (nil: none).
	groups Groups
}

func newEnv(t *testing.T, dir string) *env { return newEnvWith(t, dir, nil) }

func newEnvWith(t *testing.T, dir string, groups Groups) *env {
	t.Helper()
	cfg := config.Default()
	meta, err := metadata.Open(filepath.Join(dir, "__cluster_metadata-0"), slogDiscard())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, meta: meta, now: time.UnixMilli(1_000_000), groups: groups}
	e.parts = replica.NewManager(dir, cfg, slogDiscard())
	meta.Subscribe(func(_, img *metadata.Image) { _ = e.parts.Apply(img) })
	if err := e.parts.Apply(meta.Image()); err != nil {
		t.Fatal(err)
	}
	e.ctl = controller.New(meta, cfg, nil)
	if err := e.ctl.RegisterBroker(1, "127.0.0.1", 9092); err != nil {
		t.Fatal(err)
	}
	if _, ok := meta.Image().Topic("data"); !ok {
		if _, cerr := e.ctl.CreateTopic(controller.CreateTopicRequest{Name: "data", NumPartitions: 2, ReplicationFactor: -1}); cerr != nil {
			t.Fatal(cerr)
		}
	}
	e.c, err = New(Config{Dir: dir, NodeID: 1, NumPartitions: 3, CheckInterval: time.Hour}, meta, e.ctl, e.parts, groups, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.c.now = func() time.Time { return e.now }
	e.c.Start()
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	if e.c == nil {
		return
	}
	e.c.Close()
	_ = e.parts.Close()
	_ = e.meta.Close()
	e.c = nil
}

// restart closes everything and opens it again on the same directory.
func (e *env) restart() *env {
	e.close()
	n := newEnvWith(e.t, e.dir, e.groups)
	n.now = e.now
	return n
}

func (e *env) state(id string) (kmsg.TransactionState, int64, int16) {
	s, code := e.c.shardFor(id)
	if code != 0 {
		e.t.Fatalf("shard: %v", kerr.ErrorForCode(code))
	}
	defer s.mu.Unlock()
	m := s.txns[id]
	if m == nil {
		return -1, -1, -1
	}
	return m.state, m.pid, m.epoch
}

// settle waits until no shard is loading and no transaction is being
// completed.
func (e *env) settle() {
	e.t.Helper()
	e.c.follow()
	deadline := time.Now().Add(10 * time.Second)
	for {
		busy := 0
		for _, s := range e.c.loadedShards() {
			s.mu.Lock()
			busy += len(s.jobs)
			if s.status == shardLoading {
				busy++
			}
			s.mu.Unlock()
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d shards loading or transactions completing", busy)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) add(id string, pid int64, epoch int16, parts ...int32) int16 {
	r := kmsg.NewPtrAddPartitionsToTxnRequest()
	r.SetVersion(3)
	r.TransactionalID, r.ProducerID, r.ProducerEpoch = id, pid, epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = "data", parts
	r.Topics = append(r.Topics, rt)
	return e.c.AddPartitionsToTxn(r).Topics[0].Partitions[0].ErrorCode
}

func (e *env) end(id string, pid int64, epoch int16, commit bool) int16 {
	r := kmsg.NewPtrEndTxnRequest()
	r.SetVersion(3)
	r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit = id, pid, epoch, commit
	return e.c.EndTxn(r).ErrorCode
}

// TestTxnStateMachine runs one transactional id through Kafka's
// transitions, checking codes and states, across a restart.
func TestTxnStateMachine(t *testing.T) {
	e := newEnv(t, t.TempDir())
	id := "tx"
	res := e.c.InitProducerID(4, &id, 10000, -1, -1)
	if res.Code != 0 || res.Epoch != 0 {
		t.Fatalf("init: %+v", res)
	}
	pid := res.ProducerID
	code := func(step string, got int16, want *kerr.Error) {
		t.Helper()
		if want == nil && got != 0 || want != nil && got != want.Code {
			t.Fatalf("%s: %v, want %v", step, kerr.ErrorForCode(got), want)
		}
	}
	wantState := func(step string, want kmsg.TransactionState) {
		t.Helper()
		if st, _, _ := e.state(id); st != want {
			t.Fatalf("%s: state %v, want %v", step, st, want)
		}
	}
	code("end of an empty transaction", e.end(id, pid, 0, true), kerr.InvalidTxnState)
	code("add with another producer id", e.add(id, pid+1, 0, 0), kerr.InvalidProducerIDMapping)
	code("add with a newer epoch", e.add(id, pid, 1, 0), kerr.ProducerFenced)
	code("add", e.add(id, pid, 0, 0, 1), nil)
	wantState("after add", kmsg.TransactionStateOngoing)
	code("add again", e.add(id, pid, 0, 1), nil)
	code("commit", e.end(id, pid, 0, true), nil)
	wantState("after commit", kmsg.TransactionStateCompleteCommit)
	code("commit retried", e.end(id, pid, 0, true), nil)
	code("abort after commit", e.end(id, pid, 0, false), kerr.InvalidTxnState)
	code("add", e.add(id, pid, 0, 0), nil)

	e = e.restart()
	wantState("ongoing after restart", kmsg.TransactionStateOngoing)
	code("abort after restart", e.end(id, pid, 0, false), nil)
	wantState("after abort", kmsg.TransactionStateCompleteAbort)
	if p := e.parts.Get("data", 0); p.LastStableOffset() != p.HighWatermark() || p.HighWatermark() != 2 {
		t.Fatalf("data-0: LSO %d HW %d, want two markers and nothing unstable", p.LastStableOffset(), p.HighWatermark())
	}

	// Re-init with an open transaction: aborted with the new epoch.
	code("add", e.add(id, pid, 0, 0), nil)
	res = e.c.InitProducerID(4, &id, 10000, -1, -1)
	if res.Code != 0 || res.ProducerID != pid || res.Epoch != 1 {
		t.Fatalf("re-init: %+v", res)
	}
	wantState("after re-init", kmsg.TransactionStateEmpty)
	code("old epoch", e.add(id, pid, 0, 0), kerr.ProducerFenced)

	// Timeout: the coordinator aborts and bumps the epoch; the producer
	// re-initializing with its epoch gets the bumped one.
	code("add", e.add(id, pid, 1, 1), nil)
	e.now = e.now.Add(10001 * time.Millisecond)
	e.c.checkTimeouts()
	e.settle()
	st, _, epoch := e.state(id)
	if st != kmsg.TransactionStateCompleteAbort || epoch != 2 {
		t.Fatalf("after timeout: state %v epoch %d", st, epoch)
	}
	code("commit after timeout", e.end(id, pid, 1, true), kerr.ProducerFenced)
	res = e.c.InitProducerID(4, &id, 10000, pid, 1)
	if res.Code != 0 || res.Epoch != 2 {
		t.Fatalf("re-init after the timeout bump: %+v", res)
	}

	// Epoch exhaustion moves to a new producer id.
	s, _ := e.c.shardFor(id)
	s.txns[id].epoch = 32766
	s.mu.Unlock()
	res = e.c.InitProducerID(4, &id, 10000, -1, -1)
	if res.Code != 0 || res.ProducerID == pid || res.Epoch != 0 {
		t.Fatalf("re-init at the last epoch: %+v", res)
	}

	// Exhaustion with an open transaction: the abort markers keep the
	// producer id the data was written with (at the last epoch); the new
	// instance gets a new producer id.
	pid, epoch = res.ProducerID, res.Epoch
	code("add", e.add(id, pid, epoch, 0), nil)
	s, _ = e.c.shardFor(id)
	s.txns[id].epoch = 32766
	s.mu.Unlock()
	res = e.c.InitProducerID(4, &id, 10000, -1, -1)
	if res.Code != 0 || res.ProducerID == pid || res.Epoch != 0 {
		t.Fatalf("re-init at the last epoch with a transaction open: %+v", res)
	}
	found := false
	for _, pi := range e.parts.Get("data", 0).Producers() {
		if pi.ProducerID == pid {
			found = true
			if pi.Epoch != 32767 || pi.TxnStartOffset != -1 {
				t.Fatalf("old producer in data-0 after the fence: %+v", pi)
			}
		}
	}
	if !found {
		t.Fatalf("no abort marker of producer %d in data-0", pid)
	}

	bad := int32(DefaultMaxTimeoutMs + 1)
	if r := e.c.InitProducerID(4, &id, bad, -1, -1); r.Code != kerr.InvalidTransactionTimeout.Code {
		t.Fatalf("timeout over the max: %+v", r)
	}
	empty := ""
	if r := e.c.InitProducerID(4, &empty, 1000, -1, -1); r.Code != kerr.InvalidRequest.Code {
		t.Fatalf("empty transactional id: %+v", r)
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// withStateLeader returns a copy of img in which partition p of
// __transaction_state has leader and leader epoch (the image as it would
// be after a leader election), at a later offset.
func withStateLeader(img *metadata.Image, p int32, leader, epoch int32) *metadata.Image {
	n := *img
	n.Offset++
	n.TopicsByName = maps.Clone(img.TopicsByName)
	t := *img.TopicsByName[StateTopic]
	t.Partitions = slices.Clone(t.Partitions)
	t.Partitions[p].Leader, t.Partitions[p].LeaderEpoch = leader, epoch
	n.TopicsByName[StateTopic] = &t
	return &n
}

// TestShardFollowsLeadership: a shard serves only while this broker leads
// its partition: when another broker does, its requests get
// NOT_COORDINATOR and its state is dropped (a transaction being completed
// stops there); when the lead comes back at a new leader epoch the shard
// replays its log, completes the prepared transaction with markers
// carrying the new epoch as coordinator epoch, and serves again.
func TestShardFollowsLeadership(t *testing.T) {
	e := newEnv(t, t.TempDir())
	id := "moving"
	res := e.c.InitProducerID(4, &id, 60000, -1, -1)
	if res.Code != 0 {
		t.Fatalf("init: %+v", res)
	}
	if code := e.add(id, res.ProducerID, res.Epoch, 0); code != 0 {
		t.Fatalf("add: %v", kerr.ErrorForCode(code))
	}
	p := PartitionFor(id, 3)
	base := e.meta.Image()
	epoch0 := base.TopicsByName[StateTopic].Partitions[p].LeaderEpoch

	// The commit stops after its Prepare (as a crash would) and the
	// leadership moves away.
	stop := func(string) error { return errors.New("stopped after prepare") }
	TestHookAfterPrepare.Store(&stop)
	t.Cleanup(func() { TestHookAfterPrepare.Store(nil) })
	if code := e.end(id, res.ProducerID, res.Epoch, true); code != 0 {
		t.Fatalf("commit after a durable prepare: %v", kerr.ErrorForCode(code))
	}
	TestHookAfterPrepare.Store(nil)
	e.c.OnImage(withStateLeader(base, p, 2, epoch0+1))
	if _, code := e.c.shardFor(id); code != kerr.NotCoordinator.Code {
		t.Fatalf("shard led by another broker: %v", kerr.ErrorForCode(code))
	}
	if got := e.c.ListTransactions(kmsg.NewPtrListTransactionsRequest()); len(got.TransactionStates) != 0 {
		t.Fatalf("listed without leading: %+v", got.TransactionStates)
	}
	if p := e.parts.Get("data", 0); p.LastStableOffset() != 0 {
		t.Fatalf("data-0 LSO %d: a marker was written after the prepare stopped", p.LastStableOffset())
	}

	// Back at a newer epoch: replayed, completed, served.
	e.c.OnImage(withStateLeader(base, p, 1, epoch0+2))
	e.settle()
	if st, pid, _ := e.state(id); st != kmsg.TransactionStateCompleteCommit || pid != res.ProducerID {
		t.Fatalf("after the lead came back: state %v pid %d", st, pid)
	}
	data := e.parts.Get("data", 0)
	if data.LastStableOffset() != data.HighWatermark() {
		t.Fatalf("data-0 LSO %d HW %d after completion", data.LastStableOffset(), data.HighWatermark())
	}
	for _, pi := range data.Producers() {
		if pi.ProducerID == res.ProducerID && pi.CoordinatorEpoch != epoch0+2 {
			t.Fatalf("marker coordinator epoch %d, want %d", pi.CoordinatorEpoch, epoch0+2)
		}
	}
	// A marker of the coordinator's older epoch is now refused.
	_, err := data.AppendMarker(res.ProducerID, res.Epoch, false, epoch0+1)
	if perr := (*replica.ProduceError)(nil); !errors.As(err, &perr) || perr.Err != kerr.TransactionCoordinatorFenced {
		t.Fatalf("marker at an older coordinator epoch: %v", err)
	}
}

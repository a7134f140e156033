package controller

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/clock"
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/raft"
)

const session = 9 * time.Second // broker.session.timeout.ms's default

// lifecycleEnv is a one-voter controller on a fake clock.
func lifecycleEnv(t *testing.T) (*env, *clock.Fake) {
	e := newEnv(t, nil)
	clk := clock.NewFake(time.Unix(1_000_000, 0))
	e.c.clock = clk
	return e, clk
}

func incarnation(n byte) metadata.UUID { return metadata.UUID{0: n, 15: 1} }

func registration(id int32, inc byte) BrokerRegistration {
	return BrokerRegistration{BrokerID: id, IncarnationID: incarnation(inc),
		Endpoints: []metadata.BrokerEndpoint{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092 + id}}}
}

// register registers id and heartbeats it unfenced, returning its epoch.
func (e *env) registerLive(id int32) int64 {
	e.t.Helper()
	epoch, err := e.c.RegisterBrokerLifecycle(registration(id, byte(id)))
	if err != nil {
		e.t.Fatalf("register %d: %v", id, err)
	}
	rep := e.heartbeat(id, epoch)
	if rep.IsFenced {
		e.t.Fatalf("broker %d still fenced after a caught-up heartbeat", id)
	}
	return epoch
}

func (e *env) heartbeat(id int32, epoch int64) HeartbeatReply {
	e.t.Helper()
	rep, err := e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: id, BrokerEpoch: epoch, CurrentMetadataOffset: e.store.Image().Offset})
	if err != nil {
		e.t.Fatalf("heartbeat %d: %v", id, err)
	}
	return rep
}

// TestBrokerRegistrationAndUnfence: registration writes a fenced
// registration whose epoch is the metadata offset it is written at; a
// heartbeat from behind that offset leaves it fenced (not caught up), one
// at or past it unfences it; a stale or unknown epoch is refused.
func TestBrokerRegistrationAndUnfence(t *testing.T) {
	e, _ := lifecycleEnv(t)
	before := e.store.Image().Offset
	epoch, err := e.c.RegisterBrokerLifecycle(registration(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	im := e.store.Image()
	b := im.Brokers[1]
	if epoch != before+1 || epoch != im.Offset || b.Epoch != epoch || !b.Fenced || b.IncarnationID != incarnation(1) || b.Port != 9093 {
		t.Fatalf("epoch %d (offset before %d, after %d), registration %+v", epoch, before, im.Offset, b)
	}
	if got := im.LiveBrokerIDs(); len(got) != 0 {
		t.Fatalf("live brokers %v before any heartbeat", got)
	}

	rep, e2 := e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 1, BrokerEpoch: epoch, CurrentMetadataOffset: epoch - 1})
	if e2 != nil || !rep.IsFenced || rep.IsCaughtUp || rep.ShouldShutDown {
		t.Fatalf("heartbeat behind the registration: %+v %v", rep, e2)
	}
	rep, e2 = e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 1, BrokerEpoch: epoch, CurrentMetadataOffset: epoch, WantFence: true})
	if e2 != nil || !rep.IsFenced || !rep.IsCaughtUp {
		t.Fatalf("heartbeat wanting fence: %+v %v", rep, e2)
	}
	rep, e2 = e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 1, BrokerEpoch: epoch, CurrentMetadataOffset: epoch})
	if e2 != nil || rep.IsFenced || !rep.IsCaughtUp {
		t.Fatalf("caught-up heartbeat: %+v %v", rep, e2)
	}
	if b := e.store.Image().Brokers[1]; b.Fenced || b.Epoch != epoch {
		t.Fatalf("after unfencing: %+v", b)
	}
	if got := e.store.Image().UsableBrokerIDs(); !slices.Equal(got, []int32{1}) {
		t.Fatalf("usable brokers %v", got)
	}
	// A renewal changes nothing in the log.
	off := e.store.Image().Offset
	e.heartbeat(1, epoch)
	if e.store.Image().Offset != off {
		t.Fatal("a plain heartbeat wrote records")
	}

	_, e2 = e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 1, BrokerEpoch: epoch - 1, CurrentMetadataOffset: off})
	wantCode(t, "stale epoch", e2, kerr.StaleBrokerEpoch)
	_, e2 = e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 7, BrokerEpoch: epoch, CurrentMetadataOffset: off})
	wantCode(t, "unregistered broker", e2, kerr.StaleBrokerEpoch)
	_, e2 = e.c.RegisterBrokerLifecycle(BrokerRegistration{BrokerID: 2, IncarnationID: incarnation(2)})
	wantCode(t, "no listener", e2, kerr.InvalidRequest)
}

// TestDuplicateBrokerRegistration: another incarnation of a registered
// broker is refused while the registered one holds its lease, and taken
// once the lease expired or the registered one is fenced; the same
// incarnation (a retried registration) and this node's own broker
// (Self) re-register at once, with a greater epoch.
func TestDuplicateBrokerRegistration(t *testing.T) {
	e, clk := lifecycleEnv(t)
	epoch := e.registerLive(2)
	_, err := e.c.RegisterBrokerLifecycle(registration(2, 99))
	wantCode(t, "another incarnation, live lease", err, kerr.DuplicateBrokerRegistration)

	again, err := e.c.RegisterBrokerLifecycle(registration(2, 2))
	if err != nil || again <= epoch {
		t.Fatalf("same incarnation again: epoch %d (was %d) %v", again, epoch, err)
	}
	if b := e.store.Image().Brokers[2]; !b.Fenced || b.Epoch != again {
		t.Fatalf("re-registration: %+v", b)
	}
	epoch = again
	e.heartbeat(2, epoch)

	self := registration(2, 50)
	self.Self = true
	if epoch2, err := e.c.RegisterBrokerLifecycle(self); err != nil || epoch2 <= epoch {
		t.Fatalf("this node's own broker re-registering: %d %v", epoch2, err)
	} else {
		epoch = epoch2
	}
	e.heartbeat(2, epoch)

	clk.Advance(session + time.Millisecond)
	if got, err := e.c.RegisterBrokerLifecycle(registration(2, 60)); err != nil || got <= epoch {
		t.Fatalf("another incarnation after the lease expired: %d %v", got, err)
	}
	if b := e.store.Image().Brokers[2]; b.IncarnationID != incarnation(60) {
		t.Fatalf("registration not replaced: %+v", b)
	}
}

// TestLeaseExpiryFencesAndMovesLeaders: a broker without a heartbeat for
// broker.session.timeout.ms is fenced; partitions it led get the first
// in-sync active replica or leader -1 (with a new leader epoch), it leaves
// every ISR it is not the last member of; its caught-up heartbeat
// unfences it and it leads its leaderless partitions again.
func TestLeaseExpiryFencesAndMovesLeaders(t *testing.T) {
	e, clk := lifecycleEnv(t)
	e1 := e.registerLive(1)
	e2 := e.registerLive(2)
	e3 := e.registerLive(3)
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1, 2}, 1: {1, 2}, 2: {2, 1}, 3: {1, 3}, 4: {3, 2}}}); ce != nil {
		t.Fatal(ce)
	}
	// A new partition's ISR is its leader; these followers have caught
	// up (as replication will make them).
	e.setPartition("t", 0, []int32{1}, []int32{1}, 1)
	e.setPartition("t", 1, []int32{1, 2}, []int32{1, 2}, 1)
	e.setPartition("t", 2, []int32{2, 1}, []int32{2, 1}, 2)
	e.setPartition("t", 3, []int32{1, 3}, []int32{1}, 1) // 3 out of sync
	e.setPartition("t", 4, []int32{3}, []int32{3}, 3)
	before := map[int32]metadata.PartitionImage{}
	for p := range int32(5) {
		before[p] = e.partition("t", p)
	}

	clk.Advance(session / 2)
	e.heartbeat(2, e2)
	e.heartbeat(3, e3)
	clk.Advance(session/2 + time.Millisecond)
	e.c.fenceExpired()

	im := e.store.Image()
	if b := im.Brokers[1]; !b.Fenced || b.Epoch != e1 {
		t.Fatalf("broker 1 after its lease expired: %+v", b)
	}
	if got := im.LiveBrokerIDs(); !slices.Equal(got, []int32{2, 3}) {
		t.Fatalf("live brokers %v", got)
	}
	want := []struct {
		leader int32
		isr    []int32
		bump   bool
	}{
		{-1, []int32{1}, true}, // RF 1: no other replica; the ISR keeps its last member
		{2, []int32{2}, true},  // the in-sync follower takes over
		{2, []int32{2}, false}, // led by 2 already: only the ISR shrinks
		{-1, []int32{1}, true}, // 3 is alive but not in sync: no unclean election
		{3, []int32{3}, false}, // untouched
	}
	for p, w := range want {
		got := e.partition("t", int32(p))
		epochBump := got.LeaderEpoch - before[int32(p)].LeaderEpoch
		if got.Leader != w.leader || !slices.Equal(got.ISR, w.isr) || (epochBump == 1) != w.bump || epochBump > 1 {
			t.Errorf("partition %d: leader %d isr %v leader epoch +%d, want leader %d isr %v bump %v",
				p, got.Leader, got.ISR, epochBump, w.leader, w.isr, w.bump)
		}
	}
	// Nothing else is fenced later on, as long as 2 and 3 heartbeat.
	e.heartbeat(2, e2)
	e.heartbeat(3, e3)
	off := e.store.Image().Offset
	e.c.fenceExpired()
	if e.store.Image().Offset != off {
		t.Fatal("fenced again with nothing expired")
	}

	// Broker 1 comes back with the same epoch: unfenced, it leads its
	// leaderless partitions again (not partition 1, which 2 leads).
	rep := e.heartbeat(1, e1)
	if rep.IsFenced {
		t.Fatal("broker 1 still fenced after a caught-up heartbeat")
	}
	for p, leader := range []int32{1, 2, 2, 1, 3} {
		if got := e.partition("t", int32(p)); got.Leader != leader {
			t.Errorf("after unfencing: partition %d led by %d, want %d", p, got.Leader, leader)
		}
	}
	if got := e.partition("t", 0).LeaderEpoch; got != before[0].LeaderEpoch+2 {
		t.Errorf("partition 0 leader epoch %d, want %d (lost and regained)", got, before[0].LeaderEpoch+2)
	}
}

// TestLeaseTicker: the lease check runs on the clock by itself and fences
// a silent broker within the session timeout plus one tick, and never
// before the session timeout has passed.
func TestLeaseTicker(t *testing.T) {
	e, clk := lifecycleEnv(t)
	e.registerLive(1)
	e.c.StartBrokerLeases()
	t.Cleanup(e.c.StopBrokerLeases)
	tick := e.c.leaseTick()
	var elapsed time.Duration
	for elapsed = 0; elapsed <= session+2*tick; elapsed += tick {
		if e.store.Image().Brokers[1].Fenced {
			break
		}
		waitUntil(t, "the lease check to re-arm", func() bool { return clk.Pending() == 1 })
		clk.Advance(tick)
		// The check runs on its own goroutine: wait until it re-armed
		// (it did its work) before reading the image.
		waitUntil(t, "the lease check to run", func() bool { return clk.Pending() == 1 })
	}
	if !e.store.Image().Brokers[1].Fenced {
		t.Fatalf("not fenced %s after the last heartbeat", elapsed)
	}
	if elapsed <= session || elapsed > session+2*tick {
		t.Fatalf("fenced after %s, session %s, tick %s", elapsed, session, tick)
	}
}

// TestLeaseCheckAfterOwnPause: a controller whose own lease check ran far
// late (the process was paused) does not fence brokers for the pause.
func TestLeaseCheckAfterOwnPause(t *testing.T) {
	e, clk := lifecycleEnv(t)
	e.registerLive(1)
	e.c.StartBrokerLeases()
	t.Cleanup(e.c.StopBrokerLeases)
	waitUntil(t, "the lease check to arm", func() bool { return clk.Pending() == 1 })
	clk.Advance(session + time.Second)
	waitUntil(t, "the lease check to run", func() bool { return clk.Pending() == 1 })
	if e.store.Image().Brokers[1].Fenced {
		t.Fatal("fenced for the controller's own pause")
	}
}

// TestControlledShutdown: WantShutDown from an unfenced broker that leads
// moves its leaders away (controlled shutdown); once it leads nothing and
// the active brokers have caught up, it is fenced and told to shut down.
func TestControlledShutdown(t *testing.T) {
	e, _ := lifecycleEnv(t)
	e1 := e.registerLive(1)
	e2 := e.registerLive(2)
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1, 2}, 1: {1, 2}}}); ce != nil {
		t.Fatal(ce)
	}
	e.setPartition("t", 0, []int32{1, 2}, []int32{1, 2}, 1) // 2 caught up
	e.setPartition("t", 1, []int32{1}, []int32{1}, 1)
	rep, err := e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 1, BrokerEpoch: e1, CurrentMetadataOffset: e.store.Image().Offset, WantShutDown: true})
	if err != nil || rep.IsFenced || !rep.InControlledShutdown || rep.ShouldShutDown {
		t.Fatalf("first shutdown heartbeat: %+v %v", rep, err)
	}
	if b := e.store.Image().Brokers[1]; !b.InControlledShutdown || b.Fenced {
		t.Fatalf("broker 1: %+v", b)
	}
	if p0, p1 := e.partition("t", 0), e.partition("t", 1); p0.Leader != 2 || p1.Leader != -1 {
		t.Fatalf("leaders after controlled shutdown began: %d, %d", p0.Leader, p1.Leader)
	}
	// Broker 2 has not heartbeated past the change yet: not yet.
	rep, err = e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 1, BrokerEpoch: e1, CurrentMetadataOffset: e.store.Image().Offset, WantShutDown: true})
	if err != nil || rep.ShouldShutDown {
		t.Fatalf("shutdown granted before the active brokers caught up: %+v %v", rep, err)
	}
	e.heartbeat(2, e2)
	rep, err = e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 1, BrokerEpoch: e1, CurrentMetadataOffset: e.store.Image().Offset, WantShutDown: true})
	if err != nil || !rep.ShouldShutDown || !rep.IsFenced {
		t.Fatalf("last shutdown heartbeat: %+v %v", rep, err)
	}
	if b := e.store.Image().Brokers[1]; !b.Fenced {
		t.Fatalf("broker 1 not fenced after its shutdown: %+v", b)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// quorumControllers starts a three-member quorum with default config on
// one fake clock, a Controller on each member; leader waits for a ready
// quorum leader other than index not and returns its index.
func quorumControllers(t *testing.T) (stores []*metadata.Store, ctls []*Controller, clk *clock.Fake, leader func(not int) int) {
	t.Helper()
	cfg, err := config.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	hub := raft.NewHub(3)
	clk = clock.NewFake(time.Unix(1_000_000, 0))
	stores = make([]*metadata.Store, 3)
	ctls = make([]*Controller, 3)
	for i := range 3 {
		s, err := metadata.OpenQuorum(metadata.Config{Dir: t.TempDir(), NodeID: int32(i), Voters: map[int32]string{0: "", 1: "", 2: ""},
			Transport:       func(r raft.Receiver) raft.Transport { return hub.Join(metadata.RaftID(int32(i)), r) },
			ElectionTimeout: 100 * time.Millisecond, RequestTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
		t.Cleanup(func() { s.Close() })
		ctls[i] = New(s, cfg, slog.New(slog.DiscardHandler))
		ctls[i].clock = clk
	}
	leader = func(not int) int {
		var l int
		waitUntil(t, "a ready leader", func() bool {
			for i, s := range stores {
				if st := s.QuorumStatus(); i != not && st.IsLeader && st.Ready {
					l = i
					return true
				}
			}
			return false
		})
		return l
	}
	return stores, ctls, clk, leader
}

// TestNotControllerOnFollower: on a three-member quorum only the leader's
// controller takes registrations and heartbeats; the followers answer
// NOT_CONTROLLER. A new leader starts every lease afresh: a broker the
// old leader had unfenced is not fenced before a full session timeout.
func TestNotControllerOnFollower(t *testing.T) {
	stores, ctls, clk, leader := quorumControllers(t)
	l := leader(-1)
	epoch, ce := ctls[l].RegisterBrokerLifecycle(registration(5, 5))
	if ce != nil {
		t.Fatal(ce)
	}
	if _, ce := ctls[l].BrokerHeartbeat(BrokerHeartbeat{BrokerID: 5, BrokerEpoch: epoch, CurrentMetadataOffset: epoch}); ce != nil {
		t.Fatal(ce)
	}
	for i := range 3 {
		if i == l {
			continue
		}
		_, ce := ctls[i].RegisterBrokerLifecycle(registration(6, 6))
		wantCode(t, fmt.Sprintf("registration on follower %d", i), ce, kerr.NotController)
		_, ce = ctls[i].BrokerHeartbeat(BrokerHeartbeat{BrokerID: 5, BrokerEpoch: epoch, CurrentMetadataOffset: epoch})
		wantCode(t, fmt.Sprintf("heartbeat on follower %d", i), ce, kerr.NotController)
	}

	// The leader stops; broker 5 kept heartbeating to it until then. The
	// new leader gives it a full session from when it took over.
	clk.Advance(session - time.Second)
	stores[l].Close()
	nl := leader(l)
	waitUntil(t, "the new leader to know broker 5 unfenced", func() bool {
		b, ok := stores[nl].Image().Brokers[5]
		return ok && !b.Fenced
	})
	ctls[nl].fenceExpired() // the new controller's leases start here
	clk.Advance(2 * time.Second)
	ctls[nl].fenceExpired()
	if stores[nl].Image().Brokers[5].Fenced {
		t.Fatal("the new controller fenced a broker before a full session of its own")
	}
	clk.Advance(session)
	ctls[nl].fenceExpired()
	if !stores[nl].Image().Brokers[5].Fenced {
		t.Fatal("the new controller did not fence a silent broker after a full session")
	}
}

// TestPrevLeaderJudgedAfterItsGrace: the broker of the quorum leader a
// new controller took over from, silent since, is fenced once its link
// grace (two heartbeat intervals) has passed, by a check scheduled for
// then, without waiting for a lease tick (none runs here).
func TestPrevLeaderJudgedAfterItsGrace(t *testing.T) {
	stores, ctls, clk, leader := quorumControllers(t)
	l := leader(-1)
	id := int32(l) // the leader node's own broker
	epoch, ce := ctls[l].RegisterBrokerLifecycle(registration(id, 1))
	if ce != nil {
		t.Fatal(ce)
	}
	if _, ce := ctls[l].BrokerHeartbeat(BrokerHeartbeat{BrokerID: id, BrokerEpoch: epoch, CurrentMetadataOffset: epoch}); ce != nil {
		t.Fatal(ce)
	}
	stores[l].Close()
	nl := leader(l)
	waitUntil(t, "the new leader to know the broker unfenced", func() bool {
		b, ok := stores[nl].Image().Brokers[id]
		return ok && !b.Fenced
	})
	ctls[nl].fenceExpired() // the new controller's leases start here
	grace := ctls[nl].linkGrace()
	clk.Advance(grace - time.Millisecond)
	if stores[nl].Image().Brokers[id].Fenced {
		t.Fatal("fenced before its grace")
	}
	clk.Advance(10 * time.Millisecond)
	waitUntil(t, "the previous leader's broker fenced after its grace", func() bool {
		return stores[nl].Image().Brokers[id].Fenced
	})
}

// TestEpochAheadOfTheLog: a registration whose previous epoch is ahead of
// the metadata log (a log rebuilt at a lower offset) gets an epoch above
// it, and the broker is still unfenced once it has the registration: it
// need not wait for the log to reach the epoch.
func TestEpochAheadOfTheLog(t *testing.T) {
	e, _ := lifecycleEnv(t)
	if err := e.store.Append(metadata.RegisterBrokerRecord{BrokerID: 4, IncarnationID: incarnation(4), Host: "h", Port: 1,
		BrokerEpoch: 1000, Fenced: true}); err != nil {
		t.Fatal(err)
	}
	epoch, err := e.c.RegisterBrokerLifecycle(registration(4, 4))
	if err != nil || epoch != 1001 {
		t.Fatalf("epoch %d %v, want 1001", epoch, err)
	}
	off := e.store.Image().Offset
	if off >= epoch {
		t.Fatalf("log offset %d already past the epoch", off)
	}
	rep, err := e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 4, BrokerEpoch: epoch, CurrentMetadataOffset: off - 1})
	if err != nil || !rep.IsFenced || rep.IsCaughtUp {
		t.Fatalf("heartbeat before the registration: %+v %v", rep, err)
	}
	rep, err = e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 4, BrokerEpoch: epoch, CurrentMetadataOffset: off})
	if err != nil || rep.IsFenced || !rep.IsCaughtUp {
		t.Fatalf("heartbeat at the registration: %+v %v", rep, err)
	}
}

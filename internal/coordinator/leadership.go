package coordinator

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metadata"
)

// Coordinators move with leadership, as in Kafka: a group belongs to the
// broker leading its __consumer_offsets partition. When the metadata
// names this broker the leader of a partition, its shard starts and
// replays the partition (COORDINATOR_LOAD_IN_PROGRESS meanwhile); when it
// names another broker or none (-1: a fenced leader), the shard stops: its
// queued and parked requests get NOT_COORDINATOR and its groups are
// dropped from memory (the log keeps them for the next leader). A
// partition led elsewhere has an idle shard answering NOT_COORDINATOR.
//
// Invariant: at most one running shard per partition holds the
// partition's groups, and a shard never writes after the one replacing it
// began its replay (activate waits for prev).

// PartitionLeader is one __consumer_offsets partition's leader as the
// metadata names it: a broker id, or -1 for none.
type PartitionLeader struct {
	Leader, Epoch int32
}

// OnImage follows a new metadata image. It is called by the broker's
// metadata subscriber after the partitions applied the image, so a
// partition this broker now leads is open; it never waits for a shard.
func (c *Coordinator) OnImage(img *metadata.Image) {
	c.follow(img.Offset, OffsetsLeadersIn(img))
}

// OffsetsLeadersIn lists the leader of each __consumer_offsets partition
// in img, nil when the topic does not exist.
func OffsetsLeadersIn(img *metadata.Image) []PartitionLeader {
	t, ok := img.Topic(OffsetsTopic)
	if !ok || len(t.Partitions) == 0 {
		return nil
	}
	out := make([]PartitionLeader, len(t.Partitions))
	for i, p := range t.Partitions {
		out[i] = PartitionLeader{Leader: p.Leader, Epoch: p.LeaderEpoch}
	}
	return out
}

// follow makes the shards match leaders, the view of metadata version
// version: a shard starts for each partition this broker now leads and
// stops for each it no longer leads. Views older than the last one
// followed are ignored (Start and the subscriber may race).
func (c *Coordinator) follow(version int64, leaders []PartitionLeader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() || version < c.version {
		return
	}
	c.version = version
	var old []*shard
	if p := c.shards.Load(); p != nil {
		old = *p
	}
	if len(old) != len(leaders) || leaders == nil {
		// The topic appeared, or (never in Kafka, which refuses both)
		// vanished or changed its partition count: groups hash to other
		// partitions now, so every shard starts over.
		for _, s := range old {
			s.halt(kerr.NotCoordinator.Code)
		}
		old = nil
		if leaders == nil {
			c.shards.Store(nil)
			return
		}
	}
	ss := make([]*shard, len(leaders))
	var started, stopped []int
	for i, l := range leaders {
		var cur *shard
		if old != nil {
			cur = old[i]
		}
		running := cur != nil && !cur.idle()
		switch lead := l.Leader == c.cfg.NodeID; {
		case lead && running:
			ss[i] = cur // still ours (a new epoch alone changes nothing, as in Kafka)
			if cur.code() != 0 {
				// Queued behind the load, so it sees how the load ended.
				cur.submit(op{run: cur.retryActivate})
			}
		case lead:
			s := newShard(c, int32(i))
			s.epoch, s.prev = l.Epoch, cur
			if cur != nil {
				cur.halt(kerr.NotCoordinator.Code)
			}
			started = append(started, i)
			s.start()
			ss[i] = s
		case running:
			stopped = append(stopped, i)
			cur.halt(kerr.NotCoordinator.Code)
			ss[i] = idleShard(c, int32(i))
		case cur != nil:
			ss[i] = cur
		default:
			ss[i] = idleShard(c, int32(i))
		}
	}
	c.shards.Store(&ss)
	if len(started) > 0 {
		c.log.Info("leading offsets partitions: loading their groups", "partitions", started)
	}
	if len(stopped) > 0 {
		c.log.Info("no longer leading offsets partitions: their groups moved", "partitions", stopped)
	}
}

// retryActivate loads the partition again if the last attempt found it
// not open yet: the image that made this broker its leader has been
// applied to the partitions by now.
func (s *shard) retryActivate() {
	if shardState(s.state.Load()) == shardFailed && s.notHosted.Load() {
		s.notHosted.Store(false)
		s.state.Store(int32(shardLoading))
		s.activate()
	}
}

// idle reports whether s stands for a partition another broker leads.
func (s *shard) idle() bool {
	return shardState(s.state.Load()) == shardInactive && int16(s.stopCode.Load()) == kerr.NotCoordinator.Code
}

package share

import (
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metadata"
)

// The Manager's persistence (through the persister, to the share
// coordinator owning each key) and its State for the group coordinator.

// statePartitions is the partition count of __share_group_state, created
// on first need.
func (m *Manager) statePartitions() (int32, error) {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if m.nstate == 0 {
		n := m.be.StatePartitions()
		if n == 0 {
			if err := m.be.CreateStateTopic(m.cfg.StatePartitions); err != nil {
				return 0, err
			}
			if n = m.be.StatePartitions(); n == 0 {
				return 0, errNoStateTopic
			}
			m.log.Info("created share state topic", "topic", StateTopic, "partitions", n)
		}
		m.nstate = n
	}
	return m.nstate, nil
}

type shareError string

func (e shareError) Error() string { return string(e) }

const (
	errNoStateTopic = shareError("share: " + StateTopic + " partition not hosted")
	errClosed       = shareError("share: manager closed")
)

// persistCode is the code a client gets for a failed state write: the
// share coordinator's when it gave one, else KAFKA_STORAGE_ERROR.
func persistCode(err error) int16 {
	var ce codeError
	if errors.As(err, &ce) {
		switch int16(ce) {
		case kerr.FencedStateEpoch.Code, kerr.FencedLeaderEpoch.Code:
			// This broker's view of the share-partition is stale: the
			// client refreshes its metadata and comes back.
			return kerr.NotLeaderForPartition.Code
		case kerr.NotCoordinator.Code, kerr.CoordinatorLoadInProgress.Code, kerr.CoordinatorNotAvailable.Code:
			return kerr.CoordinatorNotAvailable.Code
		}
		return int16(ce)
	}
	return kerr.KafkaStorageError.Code
}

// loadLocked reads sp's state from its share coordinator the first time
// sp is used on this broker (sp.mu held), as the leader of data d.
func (m *Manager) loadLocked(sp *sharePartition, d Data) int16 {
	if m.isClosed() {
		return kerr.CoordinatorNotAvailable.Code
	}
	sn, found, err := m.p.read(sp.key, d.LeaderEpoch())
	if err != nil {
		m.log.Error("read share-partition state", "group", sp.key.group, "partition", sp.key.partition, "err", err)
		return persistCode(err)
	}
	if found {
		sp.restore(sn)
	}
	// Writes carry the current leader epoch: an older leader's are
	// fenced (FENCED_LEADER_EPOCH) at the share coordinator.
	sp.leaderEpoch = d.LeaderEpoch()
	sp.loaded = true
	return 0
}

// persistLocked writes sp's snapshot (sp.mu held, so the writes of a
// share-partition are in state order) and returns the wait for its
// durability, which the caller runs after unlocking. A write that fails
// drops sp from this broker (its memory may hold what is not durable): it
// is read again from the share coordinator on next use.
func (m *Manager) persistLocked(sp *sharePartition) (func() error, error) {
	if m.isClosed() {
		return nil, errClosed
	}
	wait, err := m.p.write(sp.key, sp.snapshotLocked())
	if err != nil {
		m.dropLocked(sp)
		return nil, err
	}
	return func() error {
		err := wait()
		if err != nil {
			sp.mu.Lock()
			m.dropLocked(sp)
			sp.mu.Unlock()
		}
		return err
	}, nil
}

// dropLocked forgets sp on this broker without touching its persisted
// state (sp.mu held); parked fetches wake and look it up again.
func (m *Manager) dropLocked(sp *sharePartition) {
	if sp.deleted {
		return
	}
	sp.deleted = true
	sp.wakeLocked()
	m.mu.Lock()
	if m.parts[sp.key] == sp {
		delete(m.parts, sp.key)
	}
	m.mu.Unlock()
}

// dropWhere forgets every share-partition match selects.
func (m *Manager) dropWhere(match func(key) bool) {
	m.mu.Lock()
	var sps []*sharePartition
	for k, sp := range m.parts {
		if match(k) {
			sps = append(sps, sp)
		}
	}
	m.mu.Unlock()
	for _, sp := range sps {
		sp.mu.Lock()
		m.dropLocked(sp)
		sp.mu.Unlock()
	}
}

// OnImage follows a new metadata image: the share coordinator follows the
// leadership of __share_group_state, and the share-partitions of data
// partitions this broker no longer leads (or leads at a new leader epoch)
// are dropped: their acquisition locks end, and the state is read again
// from the share coordinator if leadership comes back. It never blocks:
// the metadata publisher calls it, and a share-partition's lock may be
// held by a call waiting for that publisher (creating the state topic).
func (m *Manager) OnImage(img *metadata.Image) {
	m.coord.OnImage(img)
	for {
		cur := m.latest.Load()
		if cur != nil && cur.Offset > img.Offset {
			return
		}
		if m.latest.CompareAndSwap(cur, img) {
			break
		}
	}
	select {
	case m.imageWake <- struct{}{}:
	default:
	}
}

// followImages drops share-partitions as OnImage describes, on its own
// goroutine.
func (m *Manager) followImages() {
	defer m.wg.Done()
	for {
		select {
		case <-m.stop:
			return
		case <-m.imageWake:
			if img := m.latest.Load(); img != nil {
				m.dropNotLed(img)
			}
		}
	}
}

func (m *Manager) dropNotLed(img *metadata.Image) {
	m.mu.Lock()
	sps := make([]*sharePartition, 0, len(m.parts))
	for _, sp := range m.parts {
		sps = append(sps, sp)
	}
	m.mu.Unlock()
	for _, sp := range sps {
		sp.mu.Lock()
		t := img.TopicsByID[metadata.UUID(sp.key.topicID)]
		keep := t != nil && sp.key.partition >= 0 && int(sp.key.partition) < len(t.Partitions)
		if keep {
			p := t.Partitions[sp.key.partition]
			keep = p.Leader == m.cfg.NodeID && (!sp.loaded || p.LeaderEpoch == sp.leaderEpoch)
		}
		if !keep {
			m.dropLocked(sp)
		}
		sp.mu.Unlock()
	}
}

// ---- State (the group coordinator's side) ----

// Offsets implements State: a share-partition loaded here answers from
// memory (it is the freshest), any other from its share coordinator.
func (m *Manager) Offsets(group string, topicID [16]byte, partitions []int32) []PartitionOffset {
	out := make([]PartitionOffset, len(partitions))
	for i, p := range partitions {
		out[i] = PartitionOffset{StartOffset: -1, LeaderEpoch: -1, Lag: -1}
		k := key{group, topicID, p}
		if sp := m.get(k, false); sp != nil {
			sp.mu.Lock()
			if sp.loaded && sp.initialized && !sp.deleted {
				out[i].StartOffset, out[i].LeaderEpoch = sp.spso, sp.leaderEpoch
				if d := m.be.Data(topicID, p); d != nil {
					hw := d.HighWatermark()
					out[i].Lag = max(0, hw-sp.spso-sp.inFlightDone(hw))
				}
				sp.mu.Unlock()
				continue
			}
			sp.mu.Unlock()
		}
		if p < 0 {
			continue
		}
		s, err := m.p.summary(k)
		if err != nil || s.StartOffset < 0 {
			continue
		}
		out[i].StartOffset, out[i].LeaderEpoch = s.StartOffset, s.LeaderEpoch
		hw := int64(-1)
		if d := m.be.Data(topicID, p); d != nil {
			hw = d.HighWatermark()
		} else if m.cfg.Remote != nil {
			hw = m.cfg.Remote.HighWatermark(topicID, p)
		}
		if hw >= 0 {
			out[i].Lag = max(0, hw-s.StartOffset-int64(s.DeliveryComplete))
		}
	}
	return out
}

// Initialized implements State: the share-partitions loaded here, the
// keys of the state partitions this broker leads, and (in a cluster)
// every topic partition whose state another broker's share coordinator
// has, asked in one ReadShareGroupStateSummary per broker.
func (m *Manager) Initialized(group string) map[[16]byte][]int32 {
	seen := map[key]bool{}
	m.mu.Lock()
	sps := make([]*sharePartition, 0)
	for k, sp := range m.parts {
		if k.group == group {
			sps = append(sps, sp)
		}
	}
	m.mu.Unlock()
	for _, sp := range sps {
		sp.mu.Lock()
		if sp.loaded && sp.initialized && !sp.deleted {
			seen[sp.key] = true
		}
		sp.mu.Unlock()
	}
	m.loadAllStandalone()
	for _, k := range m.coord.keys(func(k key) bool { return k.group == group }) {
		seen[k] = true
	}
	for node, keys := range m.p.remoteKeys(group, nil) {
		got, code := m.p.summariesAt(node, group, keys)
		if code != 0 {
			m.log.Warn("list share state", "broker", node, "group", group, "code", code)
			continue
		}
		for k, s := range got {
			if s.code == 0 && s.StartOffset >= 0 {
				seen[k] = true
			}
		}
	}
	out := map[[16]byte][]int32{}
	for k := range seen {
		out[k.topicID] = append(out[k.topicID], k.partition)
	}
	for id := range out {
		slices.Sort(out[id])
	}
	return out
}

// loadAllStandalone loads every state partition when this broker's share
// coordinator owns them all (no Remote), so that listing its keys is
// complete; in a cluster the shards follow leadership and are loaded.
func (m *Manager) loadAllStandalone() {
	if m.cfg.Remote != nil || m.be.StatePartitions() == 0 {
		return
	}
	n, err := m.statePartitions()
	if err != nil {
		return
	}
	for i := int32(0); i < n; i++ {
		m.coord.summary(keyIn("", i, n))
	}
}

// keyIn finds a key of group that lands in state partition i of n (to
// load that partition through the normal path).
func keyIn(group string, i, n int32) key {
	for p := int32(0); ; p++ {
		k := key{group, [16]byte{}, p}
		if statePartition(k, n) == i {
			return k
		}
	}
}

// SetStartOffset implements State (AlterShareGroupOffsets): the state is
// initialized at the share coordinator with the next state epoch, so a
// share-partition still loaded with the old state anywhere is fenced
// (FENCED_STATE_EPOCH) at its next write; here it is dropped at once.
func (m *Manager) SetStartOffset(group string, topicID [16]byte, p int32, offset int64) int16 {
	if offset < 0 {
		return kerr.InvalidRequest.Code
	}
	k := key{group, topicID, p}
	m.dropWhere(func(x key) bool { return x == k })
	if err := m.p.initialize(k, offset); err != nil {
		m.log.Error("persist share start offset", "group", group, "partition", p, "err", err)
		return persistCode(err)
	}
	return 0
}

// DeleteTopic implements State.
func (m *Manager) DeleteTopic(group string, topicID [16]byte) int16 {
	match := func(k key) bool { return k.group == group && k.topicID == topicID }
	return m.deleteState(group, &topicID, match)
}

// DeleteGroup implements State.
func (m *Manager) DeleteGroup(group string) int16 {
	return m.deleteState(group, nil, func(k key) bool { return k.group == group })
}

// deleteState drops the matching share-partitions here and deletes their
// state at every share coordinator that may hold some, durably.
func (m *Manager) deleteState(group string, topicID *[16]byte, match func(key) bool) int16 {
	m.dropWhere(match)
	keys := map[key]bool{}
	m.loadAllStandalone()
	for _, k := range m.coord.keys(match) {
		keys[k] = true
	}
	for _, ks := range m.p.remoteKeys(group, topicID) {
		for _, k := range ks {
			keys[k] = true
		}
	}
	code := int16(0)
	for k := range keys {
		if err := m.p.remove(k); err != nil {
			m.log.Error("delete share state", "group", k.group, "partition", k.partition, "err", err)
			code = persistCode(err)
		}
	}
	return code
}

// TopicsDeleted drops every group's state of the deleted topics (their
// IDs never come back), in the background: the broker calls it from the
// metadata subscription, where persisting cannot wait. Every broker does
// it for the state partitions it leads.
func (m *Manager) TopicsDeleted(ids [][16]byte) {
	if len(ids) == 0 {
		return
	}
	gone := map[[16]byte]bool{}
	for _, id := range ids {
		gone[id] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		match := func(k key) bool { return gone[k.topicID] }
		m.dropWhere(match)
		m.loadAllStandalone()
		for _, k := range m.coord.keys(match) {
			if wait, code := m.coord.remove(k); code == 0 {
				if err := wait(); err != nil {
					m.log.Error("delete share state of a deleted topic", "group", k.group, "err", err)
				}
			}
		}
	}()
}

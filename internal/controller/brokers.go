package controller

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/clock"
	"github.com/sluice-io/sluice/internal/metadata"
)

// The broker lifecycle, KRaft's way (ClusterControlManager,
// BrokerHeartbeatManager and the fencing half of ReplicationControlManager):
//
//   - BrokerRegistration writes a RegisterBrokerRecord with a new broker
//     epoch (the metadata offset the record is written at) and the broker
//     fenced. A registration with another incarnation id while the
//     registered one still holds a lease is DUPLICATE_BROKER_REGISTRATION.
//   - BrokerHeartbeat renews the broker's lease. A fenced broker that asks
//     to be unfenced (WantFence false) and has caught up with the metadata
//     log up to its registration is unfenced, and the leaderless
//     partitions it can lead get it as leader. WantFence and WantShutDown
//     follow Kafka's state machine (brokerStates).
//   - A broker whose lease expires (broker.session.timeout.ms without a
//     heartbeat) is fenced: it leaves the ISR of its partitions (unless it
//     is the last member) and the partitions it led get another in-sync
//     active replica as leader, or leader -1.
//
// INVARIANT: leases live only in the memory of the active controller (the
// quorum leader). They are rebuilt, every broker getting one full session
// timeout, whenever this node becomes leader in a new term; so a broker is
// never fenced for heartbeats another controller received.

// BrokerRegistration is a BrokerRegistration request (key 62).
type BrokerRegistration struct {
	BrokerID      int32
	IncarnationID metadata.UUID
	Endpoints     []metadata.BrokerEndpoint // at least one; the first is Host:Port
	Rack          *string
	// Self marks a registration from this node's own broker (an
	// in-process call). Its previous incarnation died with the process
	// this controller runs in, so its lease is not waited for.
	Self bool
}

// BrokerHeartbeat is a BrokerHeartbeat request (key 63).
type BrokerHeartbeat struct {
	BrokerID              int32
	BrokerEpoch           int64
	CurrentMetadataOffset int64
	WantFence             bool
	WantShutDown          bool
	// Link, when not nil, is closed when the connection the heartbeat
	// came over closes (server.ConnInfo.Done); nil for a broker on this
	// node, which calls the controller directly.
	Link <-chan struct{}
}

// HeartbeatReply is the answer to a BrokerHeartbeat.
type HeartbeatReply struct {
	IsCaughtUp           bool
	IsFenced             bool
	InControlledShutdown bool
	ShouldShutDown       bool
}

// brokerState is Kafka's BrokerControlState.
type brokerState int

const (
	stateFenced brokerState = iota
	stateUnfenced
	stateControlledShutdown
	stateShutdownNow
)

func (s brokerState) fenced() bool { return s == stateFenced || s == stateShutdownNow }

// lease is what the active controller knows of one broker between
// heartbeats.
type lease struct {
	lastContact    time.Time
	metadataOffset int64 // from its last heartbeat; -1 before one
	// shutdownOffset is the metadata offset at which it entered controlled
	// shutdown (-1: not in it): it may stop once every active broker has
	// caught up past it.
	shutdownOffset int64
	// registeredAt is the image offset once this controller had applied
	// the broker's registration (-1: registered under another
	// controller): at or past the registration record, so a broker that
	// reached it has seen its registration.
	registeredAt int64
	// link is the connection of the broker's latest heartbeat (nil: none
	// or a local call). Once it has closed, the broker is fenced after
	// linkGrace without a heartbeat rather than after the whole session
	// timeout: a process that died (SIGKILL, a crash) has its sockets
	// closed by its kernel at once, while a live broker whose connection
	// dropped reconnects and heartbeats within an interval.
	link <-chan struct{}
}

// leases is the active controller's lease table.
type leases struct {
	mu     sync.Mutex
	term   uint64 // the quorum term the table belongs to; 0: not active
	byID   map[int32]*lease
	ticker clock.Stopper
	last   time.Time // when the expiry check last ran
	closed bool
	// prevLeader is the node id of the quorum leader this node took over
	// from (-1: none known), whose broker starts the term's lease table
	// with only the link grace left.
	prevLeader int32
}

// active reports whether this node is the active controller (the quorum
// leader, its term's first entry applied) and, when it just became one,
// starts a fresh lease table: every registered broker gets one full
// session timeout from now.
func (c *Controller) active() bool {
	st := c.store.QuorumStatus()
	l := &c.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	if !st.IsLeader || !st.Ready {
		l.term, l.byID = 0, nil
		return false
	}
	if l.term != st.Term || l.byID == nil {
		now := c.clock.Now()
		l.term, l.byID, l.prevLeader = st.Term, map[int32]*lease{}, -1
		if st.PrevLeader != 0 {
			l.prevLeader = metadata.NodeID(st.PrevLeader)
		}
		im := c.store.Image()
		for id, b := range im.Brokers {
			ls := &lease{lastContact: now, metadataOffset: -1, shutdownOffset: -1, registeredAt: -1}
			if id == l.prevLeader {
				// This node leads because the previous leader went
				// silent for an election timeout: most likely its
				// process died, broker included. Its broker gets the
				// link grace to heartbeat here, not a whole session (a
				// live one finds the new controller within an interval).
				ls.lastContact = now.Add(c.linkGrace() - c.cfg.BrokerSessionTimeout())
			}
			if b.InControlledShutdown {
				// When it entered is unknown here: take now's offset.
				ls.shutdownOffset = im.Offset
			}
			l.byID[id] = ls
		}
		if b, ok := im.Brokers[l.prevLeader]; ok && !b.Fenced {
			// Judge that lease once its grace has passed, not at the
			// next lease tick (up to a tenth of the session later).
			c.checkLeasesAfter(c.linkGrace())
		}
		c.logger.Info("active controller: broker leases start", "term", st.Term, "brokers", len(im.Brokers), "previous.leader", l.prevLeader)
	}
	return true
}

// leaseOf returns id's lease, creating it (starting now) if missing. The
// caller holds c.leases.mu.
func (c *Controller) leaseOf(id int32) *lease {
	ls := c.leases.byID[id]
	if ls == nil {
		ls = &lease{lastContact: c.clock.Now(), metadataOffset: -1, shutdownOffset: -1, registeredAt: -1}
		if c.leases.byID == nil {
			c.leases.byID = map[int32]*lease{}
		}
		c.leases.byID[id] = ls
	}
	return ls
}

// validSession reports whether b still holds a lease: unfenced and heard
// from within the session timeout (Kafka's hasValidSession).
func (c *Controller) validSession(b metadata.BrokerImage) bool {
	if b.Fenced {
		return false
	}
	c.leases.mu.Lock()
	defer c.leases.mu.Unlock()
	ls := c.leases.byID[b.ID]
	return ls != nil && c.clock.Now().Sub(ls.lastContact) <= c.cfg.BrokerSessionTimeout()
}

var notController = &Error{Code: kerr.NotController.Code, Message: "this node is not the active controller"}

// RegisterBrokerLifecycle handles a BrokerRegistration: it returns the
// broker's new epoch. The broker is registered fenced; its heartbeats
// unfence it once it has caught up.
func (c *Controller) RegisterBrokerLifecycle(r BrokerRegistration) (int64, *Error) {
	if r.BrokerID < 0 {
		return -1, errorf(kerr.InvalidRequest, "invalid broker id %d", r.BrokerID)
	}
	if len(r.Endpoints) == 0 {
		return -1, errorf(kerr.InvalidRequest, "broker %d registers no listener", r.BrokerID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active() {
		return -1, notController
	}
	im := c.store.Image()
	old, exists := im.Brokers[r.BrokerID]
	if exists && !r.Self && old.IncarnationID != r.IncarnationID && c.validSession(old) {
		return -1, errorf(kerr.DuplicateBrokerRegistration, "Another broker is registered with that broker id %d.", r.BrokerID)
	}
	// KRaft's broker epoch is the offset of the registration record: the
	// next offset of the log, which only grows, so every registration of
	// a broker has a greater epoch than the last.
	epoch := im.Offset + 1
	if exists && epoch <= old.Epoch {
		epoch = old.Epoch + 1
	}
	rec := metadata.RegisterBrokerRecord{BrokerID: r.BrokerID, IncarnationID: r.IncarnationID,
		Host: r.Endpoints[0].Host, Port: r.Endpoints[0].Port, Rack: r.Rack, Endpoints: slices.Clone(r.Endpoints),
		BrokerEpoch: epoch, Fenced: true}
	if err := c.store.Append(rec); err != nil {
		return -1, storeError(err)
	}
	c.leases.mu.Lock()
	ls := c.leaseOf(r.BrokerID)
	ls.lastContact, ls.metadataOffset, ls.shutdownOffset = c.clock.Now(), -1, -1
	ls.registeredAt = c.store.Image().Offset
	ls.link = nil // a new incarnation: its first heartbeat brings its connection
	c.leases.mu.Unlock()
	c.logger.Info("broker registered", "id", r.BrokerID, "epoch", epoch, "incarnation", r.IncarnationID,
		"endpoints", len(r.Endpoints), "replaced", exists)
	return epoch, nil
}

// BrokerHeartbeat handles a heartbeat: it renews the broker's lease and
// moves it through Kafka's states (fenced, unfenced, controlled shutdown,
// shut down), writing the records of a change before it answers.
func (c *Controller) BrokerHeartbeat(h BrokerHeartbeat) (HeartbeatReply, *Error) {
	fenced := HeartbeatReply{IsFenced: true}
	if !c.active() {
		return fenced, notController
	}
	if e := c.checkEpoch(c.store.Image(), h); e != nil {
		return fenced, e
	}
	// The lease is renewed when the heartbeat arrives, not once it gets
	// the controller's lock: a long admin request must not fence anyone.
	c.leases.mu.Lock()
	ls := c.leaseOf(h.BrokerID)
	ls.lastContact, ls.metadataOffset = c.clock.Now(), h.CurrentMetadataOffset
	if h.Link != nil && ls.link != h.Link {
		ls.link = h.Link
		go c.watchLink(h.Link)
	}
	c.leases.mu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active() {
		return fenced, notController
	}
	im := c.store.Image()
	if e := c.checkEpoch(im, h); e != nil {
		return fenced, e
	}
	// Renewed again now: the broker sends its next heartbeat an interval
	// after this answer, so time spent waiting for c.mu is not its.
	c.leases.mu.Lock()
	c.leaseOf(h.BrokerID).lastContact = c.clock.Now()
	c.leases.mu.Unlock()
	b := im.Brokers[h.BrokerID]
	caughtUp := h.CurrentMetadataOffset >= c.registrationOffset(b)
	cur := currentState(b)
	next := c.nextState(im, b, cur, h, caughtUp)
	if next != cur {
		var recs []metadata.Record
		switch next {
		case stateUnfenced:
			recs = c.unfenceRecords(im, b)
		case stateFenced, stateShutdownNow:
			if !b.Fenced {
				recs = c.fenceRecords(im, b)
			}
		case stateControlledShutdown:
			recs = c.controlledShutdownRecords(im, b)
		}
		if err := c.store.Append(recs...); err != nil {
			return fenced, storeError(err)
		}
		if next == stateControlledShutdown {
			c.leases.mu.Lock()
			c.leaseOf(b.ID).shutdownOffset = c.store.Image().Offset
			c.leases.mu.Unlock()
		}
		c.logger.Info("broker state changed", "id", b.ID, "epoch", b.Epoch, "from", cur, "to", next,
			"metadata.offset", h.CurrentMetadataOffset, "records", len(recs))
	}
	return HeartbeatReply{
		IsCaughtUp:           caughtUp,
		IsFenced:             next.fenced(),
		InControlledShutdown: next == stateControlledShutdown,
		ShouldShutDown:       next == stateShutdownNow,
	}, nil
}

func (c *Controller) checkEpoch(im *metadata.Image, h BrokerHeartbeat) *Error {
	b, ok := im.Brokers[h.BrokerID]
	if !ok {
		return errorf(kerr.StaleBrokerEpoch, "No broker registration found for broker %d", h.BrokerID)
	}
	if b.Epoch != h.BrokerEpoch {
		return errorf(kerr.StaleBrokerEpoch, "Expected broker epoch %d, but got broker epoch %d", b.Epoch, h.BrokerEpoch)
	}
	return nil
}

func currentState(b metadata.BrokerImage) brokerState {
	switch {
	case b.Fenced:
		return stateFenced
	case b.InControlledShutdown:
		return stateControlledShutdown
	}
	return stateUnfenced
}

func (s brokerState) String() string {
	return [...]string{"FENCED", "UNFENCED", "CONTROLLED_SHUTDOWN", "SHUTDOWN_NOW"}[s]
}

// registrationOffset is the metadata offset a broker must have reached to
// have seen its registration: the broker epoch (the offset the record was
// meant to take), or, when this controller wrote it, the smaller of that
// and the offset once it was applied (an epoch raised above an older one
// may run ahead of the log).
func (c *Controller) registrationOffset(b metadata.BrokerImage) int64 {
	c.leases.mu.Lock()
	defer c.leases.mu.Unlock()
	if ls := c.leases.byID[b.ID]; ls != nil && ls.registeredAt >= 0 {
		return min(b.Epoch, ls.registeredAt)
	}
	return b.Epoch
}

// nextState is Kafka's BrokerHeartbeatManager.calculateNextBrokerState;
// caughtUp says the heartbeat's offset reached the registration.
func (c *Controller) nextState(im *metadata.Image, b metadata.BrokerImage, cur brokerState, h BrokerHeartbeat, caughtUp bool) brokerState {
	switch cur {
	case stateFenced:
		switch {
		case h.WantShutDown:
			return stateShutdownNow
		case !h.WantFence && caughtUp:
			return stateUnfenced
		}
		return stateFenced
	case stateUnfenced:
		switch {
		case h.WantFence && h.WantShutDown:
			return stateShutdownNow
		case h.WantFence:
			return stateFenced
		case h.WantShutDown && leads(im, b.ID):
			return stateControlledShutdown
		case h.WantShutDown:
			return stateShutdownNow
		}
		return stateUnfenced
	case stateControlledShutdown:
		if leads(im, b.ID) {
			return stateControlledShutdown
		}
		c.leases.mu.Lock()
		defer c.leases.mu.Unlock()
		if c.leaseOf(b.ID).shutdownOffset <= c.lowestActiveOffset(im) {
			return stateShutdownNow
		}
		return stateControlledShutdown
	}
	return stateShutdownNow
}

// lowestActiveOffset is the smallest metadata offset the active brokers
// (unfenced, not shutting down) reported; the caller holds c.leases.mu.
func (c *Controller) lowestActiveOffset(im *metadata.Image) int64 {
	low := int64(1<<63 - 1)
	for id, b := range im.Brokers {
		if b.Active() {
			low = min(low, c.leaseOf(id).metadataOffset)
		}
	}
	return low
}

// leads reports whether broker id leads a partition.
func leads(im *metadata.Image, id int32) bool {
	for _, t := range im.TopicsByID {
		for _, p := range t.Partitions {
			if p.Leader == id {
				return true
			}
		}
	}
	return false
}

// unfenceRecords unfences b and elects a leader where a partition has
// none (Kafka's handleBrokerUnfenced): b counts as active already; the
// first in-sync active replica leads, or, where the topic allows unclean
// elections, the first active replica.
func (c *Controller) unfenceRecords(im *metadata.Image, b metadata.BrokerImage) []metadata.Record {
	recs := []metadata.Record{metadata.UnfenceBrokerRecord{ID: b.ID, Epoch: b.Epoch}}
	acceptable := func(r int32) bool { return r == b.ID || acceptableLeader(im, r) }
	forEachPartition(im, func(t *metadata.TopicImage, i int32, p metadata.PartitionImage) {
		if p.Leader != metadata.NoLeader {
			return
		}
		pc := newPartitionChange(im, t, i)
		pc.acceptable, pc.election = acceptable, c.topicElection(t)
		if rec := pc.build(); rec != nil {
			recs = append(recs, *rec)
		}
	})
	return recs
}

// fenceRecords fences b (Kafka's handleBrokerFenced): b leaves the ISR
// of every partition it is in (unless it is the last member: without
// eligible leader replicas Kafka keeps the ISR non-empty), and each
// partition whose leader can no longer lead gets the first in-sync active
// replica, or no leader.
func (c *Controller) fenceRecords(im *metadata.Image, b metadata.BrokerImage) []metadata.Record {
	recs := c.removeFromPartitions(im, b.ID)
	return append(recs, metadata.FenceBrokerRecord{ID: b.ID, Epoch: b.Epoch})
}

// controlledShutdownRecords marks b in controlled shutdown and moves its
// leaders away as fencing does (Kafka's handleBrokerInControlledShutdown).
func (c *Controller) controlledShutdownRecords(im *metadata.Image, b metadata.BrokerImage) []metadata.Record {
	recs := []metadata.Record{metadata.BrokerRegistrationChangeRecord{BrokerID: b.ID, BrokerEpoch: b.Epoch,
		Fenced: metadata.FencingNone, InControlledShutdown: metadata.ShutdownIn}}
	return append(recs, c.removeFromPartitions(im, b.ID)...)
}

// removeFromPartitions builds the PartitionChangeRecords that take id out
// of the ISRs and leaderships of every partition whose ISR holds it
// (Kafka's generateLeaderAndIsrUpdates with a broker to remove): id leaves
// the ISR unless it is the last member, and a partition it led gets the
// first in-sync active replica, else (unclean.leader.election.enable) the
// first active replica, else no leader.
func (c *Controller) removeFromPartitions(im *metadata.Image, id int32) []metadata.Record {
	var recs []metadata.Record
	acceptable := func(r int32) bool { return r != id && acceptableLeader(im, r) }
	forEachPartition(im, func(t *metadata.TopicImage, i int32, p metadata.PartitionImage) {
		if !slices.Contains(p.ISR, id) && p.Leader != id {
			return
		}
		pc := newPartitionChange(im, t, i)
		pc.acceptable, pc.election = acceptable, c.topicElection(t)
		pc.targetISR = slices.DeleteFunc(slices.Clone(p.ISR), func(r int32) bool { return r == id })
		if rec := pc.build(); rec != nil {
			recs = append(recs, *rec)
		}
	})
	return recs
}

// forEachPartition calls fn for every partition, topics in name order.
func forEachPartition(im *metadata.Image, fn func(t *metadata.TopicImage, i int32, p metadata.PartitionImage)) {
	for _, name := range im.TopicNames() {
		t := im.TopicsByName[name]
		for i, p := range t.Partitions {
			fn(t, int32(i), p)
		}
	}
}

// fenceExpired fences every unfenced broker whose lease has expired, one
// Append per broker. Only the active controller fences.
func (c *Controller) fenceExpired() {
	asked := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active() {
		return
	}
	// Heartbeats wait for c.mu to be answered, and a broker sends its next
	// one only after the answer: a wait here longer than a lease tick
	// (a long request, a stalled machine) held them up too. Judge the
	// leases at the next tick, once the queued heartbeats were answered.
	if waited := c.clock.Now().Sub(asked); waited > c.leaseTick() {
		c.logger.Warn("broker lease check waited for the controller: leases judged at the next check", "waited", waited)
		return
	}
	im := c.store.Image()
	session, grace := c.cfg.BrokerSessionTimeout(), c.linkGrace()
	now := c.clock.Now()
	for _, id := range im.BrokerIDs() {
		b := im.Brokers[id]
		if b.Fenced {
			continue
		}
		c.leases.mu.Lock()
		ls := c.leaseOf(id)
		since, lost := now.Sub(ls.lastContact), closed(ls.link)
		c.leases.mu.Unlock()
		if since <= session && (!lost || since <= grace) {
			continue
		}
		recs := c.fenceRecords(c.store.Image(), c.store.Image().Brokers[id])
		if err := c.store.Append(recs...); err != nil {
			c.logger.Warn("fencing a broker whose lease expired failed; retrying", "id", id, "err", err)
			return
		}
		reason := "no heartbeat within broker.session.timeout.ms"
		switch {
		case since > session && id == c.prevLeaderID():
			reason = "it was on the previous quorum leader and has not heartbeated to this one"
		case since <= session:
			reason = "its heartbeat connection closed and no heartbeat came since"
		}
		c.logger.Warn("broker fenced: "+reason, "id", id, "epoch", b.Epoch,
			"last.heartbeat.ago", since, "partitions.changed", len(recs)-1)
	}
}

func (c *Controller) prevLeaderID() int32 {
	c.leases.mu.Lock()
	defer c.leases.mu.Unlock()
	return c.leases.prevLeader
}

// linkGrace is how long a broker whose heartbeat connection closed has to
// heartbeat again before it is fenced: two heartbeat intervals (a live
// broker reconnects and sends its next one within one), never more than
// the session timeout.
func (c *Controller) linkGrace() time.Duration {
	return min(2*c.cfg.BrokerHeartbeatInterval(), c.cfg.BrokerSessionTimeout())
}

// watchLink waits for a heartbeat connection to close, then checks the
// leases once its grace has passed, rather than at the next lease tick (a
// tenth of the session timeout, often longer than the grace).
func (c *Controller) watchLink(link <-chan struct{}) {
	<-link
	c.leases.mu.Lock()
	defer c.leases.mu.Unlock()
	c.checkLeasesAfter(c.linkGrace())
}

// checkLeasesAfter runs fenceExpired just past d from now (so a lease
// whose grace ends at d is already over it), unless the lease check has
// stopped. The caller holds c.leases.mu.
func (c *Controller) checkLeasesAfter(d time.Duration) {
	if c.leases.closed {
		return
	}
	c.clock.AfterFunc(d+time.Millisecond, func() {
		c.leases.mu.Lock()
		stopped := c.leases.closed
		c.leases.mu.Unlock()
		if !stopped {
			c.fenceExpired()
		}
	})
}

// closed reports whether ch (a connection's Done) is closed; nil is open.
func closed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// StartBrokerLeases starts the lease check of the active controller: every
// tenth of broker.session.timeout.ms it notices whether this node became
// or stopped being the quorum leader, fences the brokers whose lease
// expired, runs the unclean elections topics allow (elect.go) and, once
// per leader.imbalance.check.interval, the automatic leader rebalance
// (rebalance.go). It runs until StopBrokerLeases.
func (c *Controller) StartBrokerLeases() {
	c.leases.mu.Lock()
	defer c.leases.mu.Unlock()
	if c.leases.ticker != nil || c.leases.closed {
		return
	}
	c.leases.last = c.clock.Now()
	c.leases.ticker = c.clock.AfterFunc(c.leaseTick(), c.leaseTickFired)
}

func (c *Controller) leaseTick() time.Duration {
	return max(c.cfg.BrokerSessionTimeout()/10, time.Millisecond)
}

func (c *Controller) leaseTickFired() {
	tick := c.leaseTick()
	c.leases.mu.Lock()
	if c.leases.closed {
		c.leases.mu.Unlock()
		return
	}
	now := c.clock.Now()
	// A controller that was itself paused (a stopped process, a stalled
	// machine) heard no heartbeat meanwhile: it does not judge leases
	// across its own pause, it moves them forward by it.
	if gap := now.Sub(c.leases.last); gap > c.cfg.BrokerSessionTimeout()/2 {
		for _, ls := range c.leases.byID {
			ls.lastContact = ls.lastContact.Add(gap - tick)
		}
		c.logger.Warn("broker lease check ran late: leases extended by the delay", "delay", gap-tick)
	}
	c.leases.last = now
	c.leases.mu.Unlock()

	c.fenceExpired()
	c.electUncleanLeaders()
	c.maybeRebalanceLeaders()

	c.leases.mu.Lock()
	defer c.leases.mu.Unlock()
	if !c.leases.closed {
		c.leases.ticker = c.clock.AfterFunc(tick, c.leaseTickFired)
	}
}

// StopBrokerLeases stops the lease check.
func (c *Controller) StopBrokerLeases() {
	c.leases.mu.Lock()
	defer c.leases.mu.Unlock()
	c.leases.closed = true
	if c.leases.ticker != nil {
		c.leases.ticker.Stop()
	}
}

// String renders a broker registration for logs.
func (r BrokerRegistration) String() string {
	return fmt.Sprintf("broker %d incarnation %s (%d endpoints)", r.BrokerID, r.IncarnationID, len(r.Endpoints))
}

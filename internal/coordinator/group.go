package coordinator

import (
	"bytes"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupState is Kafka's classic group state.
type groupState int8

const (
	stateEmpty groupState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (s groupState) String() string { return stateNames[s] }

// validPrevious is Kafka's transition table: the states a group may enter
// each state from.
var validPrevious = map[groupState][]groupState{
	stateEmpty:               {statePreparingRebalance},
	statePreparingRebalance:  {stateStable, stateCompletingRebalance, stateEmpty},
	stateCompletingRebalance: {statePreparingRebalance},
	stateStable:              {stateCompletingRebalance},
	stateDead:                {stateStable, statePreparingRebalance, stateCompletingRebalance, stateEmpty, stateDead},
}

type protocol struct {
	name     string
	metadata []byte
}

// joinWaiter is a parked JoinGroup.
type joinWaiter struct {
	version int16
	reply   func(*kmsg.JoinGroupResponse)
}

// syncWaiter is a parked SyncGroup.
type syncWaiter struct {
	reply func(*kmsg.SyncGroupResponse)
}

type member struct {
	id, clientID, clientHost string
	instanceID               *string
	rebalanceTimeout         time.Duration
	sessionTimeout           time.Duration
	protocolType             string
	protocols                []protocol // in the member's preference order
	assignment               []byte     // exactly as the leader sent it

	join *joinWaiter // parked JoinGroup, or nil
	sync *syncWaiter // parked SyncGroup, or nil
	// isNew: joined but never completed a join phase; such a member has
	// no member id of its own to heartbeat with yet.
	isNew     bool
	heartbeat *timer
}

// matches reports whether protocols equal the member's, in order.
func (m *member) matches(ps []kmsg.JoinGroupRequestProtocol) bool {
	if len(ps) != len(m.protocols) {
		return false
	}
	for i, p := range ps {
		if p.Name != m.protocols[i].name || !bytes.Equal(p.Metadata, m.protocols[i].metadata) {
			return false
		}
	}
	return true
}

func (m *member) metadata(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

// hasSatisfiedHeartbeat: a parked request counts as liveness, except for a
// new member (Kafka's rule, so abandoned first joins do not pile up).
func (m *member) hasSatisfiedHeartbeat() bool {
	if m.isNew {
		return false
	}
	return m.join != nil || m.sync != nil
}

func toProtocols(ps []kmsg.JoinGroupRequestProtocol) []protocol {
	out := make([]protocol, len(ps))
	for i, p := range ps {
		out[i] = protocol{p.Name, bytes.Clone(p.Metadata)}
	}
	return out
}

type tp struct {
	topic     string
	partition int32
}

// offset is one committed offset as stored in __consumer_offsets.
type offset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitMs    int64
	expireMs    int64 // -1: none (value v3)
	// logOff is the offset of the record in the partition: of two
	// commits of a partition the later record wins, whatever order
	// they became visible in (a transaction's offsets become visible at
	// its marker, after commits written later; Kafka's olderThan).
	logOff int64
}

type group struct {
	id           string
	state        groupState
	prevState    groupState
	stateTime    time.Time // when state was entered; zero when unknown (old records)
	generation   int32
	protocolType string // "" for a simple (offsets-only) group
	protocolName string // "" unless members exist
	leader       string

	members  map[string]*member
	order    []string            // member ids in join order (deterministic lists)
	pending  map[string]*timer   // v4+ member ids handed out, not yet joined
	static   map[string]string   // group.instance.id -> member id
	pendSync map[string]struct{} // members expected to SyncGroup this generation

	newMemberAdded bool // a member joined during the initial delay
	joinTimer      *timer
	syncTimer      *timer

	// subscribed is the union of the consumer-protocol subscriptions of the
	// current generation; subscribedKnown is false when it cannot be told.
	subscribed      map[string]bool
	subscribedKnown bool

	offsets        map[tp]offset // durable commits only
	pendingCommits map[tp]int    // commits appended but not yet durable

	// cg is the KIP-848 state of a "consumer" type group; nil for a
	// classic group (consumer_group.go).
	cg *consumerGroup
}

func newGroup(id string, now time.Time) *group {
	return &group{
		id: id, state: stateEmpty, prevState: stateEmpty, stateTime: now,
		members: map[string]*member{}, pending: map[string]*timer{}, static: map[string]string{},
		pendSync: map[string]struct{}{}, offsets: map[tp]offset{}, pendingCommits: map[tp]int{},
	}
}

// transition moves the group to to, keeping Kafka's table; a move the table
// forbids is a bug and is reported, not applied.
func (g *group) transition(s *shard, to groupState) {
	if !slices.Contains(validPrevious[to], g.state) {
		s.log.Error("invalid group state transition", "group", g.id, "from", g.state, "to", to)
		return
	}
	g.prevState, g.state = g.state, to
	g.stateTime = s.c.clock.Now()
}

func (g *group) is(states ...groupState) bool { return slices.Contains(states, g.state) }

// canRebalance: a rebalance may start from this state.
func (g *group) canRebalance() bool {
	return g.is(stateStable, stateCompletingRebalance, stateEmpty)
}

func (g *group) orderedMembers() []*member {
	out := make([]*member, 0, len(g.order))
	for _, id := range g.order {
		if m := g.members[id]; m != nil {
			out = append(out, m)
		}
	}
	return out
}

// add puts m in the group; the first member sets the protocol type and
// becomes leader.
func (g *group) add(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	delete(g.pending, m.id)
}

// remove takes member id out (its parked requests must already be
// answered); a leaving leader hands over to the oldest remaining member.
func (g *group) remove(id string) {
	m := g.members[id]
	if m == nil {
		return
	}
	m.heartbeat.stop()
	delete(g.members, id)
	if i := slices.Index(g.order, id); i >= 0 {
		g.order = slices.Delete(g.order, i, i+1)
	}
	if m.instanceID != nil && g.static[*m.instanceID] == id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
	delete(g.pendSync, id)
}

// validateMember is Kafka's check of a (member id, instance id) pair.
func (g *group) validateMember(memberID string, instanceID *string) int16 {
	if instanceID != nil {
		existing, ok := g.static[*instanceID]
		switch {
		case !ok:
			return kerr.UnknownMemberID.Code
		case existing != memberID:
			return kerr.FencedInstanceID.Code
		}
		return 0
	}
	if g.members[memberID] == nil {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

// supportsProtocols: an empty group takes any non-empty protocol set; a
// live one needs the same protocol type and one protocol every member
// supports.
func (g *group) supportsProtocols(protocolType string, ps []kmsg.JoinGroupRequestProtocol) bool {
	if g.state == stateEmpty {
		return protocolType != "" && len(ps) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range ps {
		if g.allSupport(p.Name) {
			return true
		}
	}
	return false
}

func (g *group) allSupport(name string) bool {
	for _, m := range g.members {
		if !slices.ContainsFunc(m.protocols, func(p protocol) bool { return p.name == name }) {
			return false
		}
	}
	return true
}

// selectProtocol picks, among the protocols every member supports, the one
// most members prefer (each votes for its first supported candidate), as
// Kafka does; ties go to the leader's preference.
func (g *group) selectProtocol() string {
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.allSupport(p.name) {
				votes[p.name]++
				break
			}
		}
	}
	lead := g.members[g.leader]
	if lead == nil {
		for _, id := range g.order {
			lead = g.members[id]
			break
		}
	}
	if lead == nil {
		return ""
	}
	best, n := "", 0
	for _, p := range lead.protocols {
		if v := votes[p.name]; v > n {
			best, n = p.name, v
		}
	}
	return best
}

// hasAllMembersJoined: every member has a JoinGroup parked and no member id
// handed out is still expected.
func (g *group) hasAllMembersJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if m.join == nil {
			return false
		}
	}
	return true
}

// maybeElectNewJoinedLeader keeps the leader if it rejoined, else picks a
// member that did; false when no member rejoined.
func (g *group) maybeElectNewJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if g.members[g.leader].join != nil {
		return true
	}
	for _, m := range g.orderedMembers() {
		if m.join != nil {
			g.leader = m.id
			return true
		}
	}
	return false
}

// rebalanceTimeout is the largest member rebalance timeout.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// currentMembers is the member list the leader receives.
func (g *group) currentMembers() []kmsg.JoinGroupResponseMember {
	out := make([]kmsg.JoinGroupResponseMember, 0, len(g.members))
	for _, m := range g.orderedMembers() {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = m.id
		jm.InstanceID = m.instanceID
		jm.ProtocolMetadata = m.metadata(g.protocolName)
		out = append(out, jm)
	}
	return out
}

// computeSubscribed parses the consumer-protocol subscriptions of the
// selected protocol (what OffsetDelete and offset expiry consult).
func (g *group) computeSubscribed() {
	g.subscribed, g.subscribedKnown = nil, false
	if g.protocolType != "consumer" {
		return
	}
	if len(g.members) == 0 {
		g.subscribed, g.subscribedKnown = map[string]bool{}, true
		return
	}
	if g.protocolName == "" {
		return
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.metadata(g.protocolName)); err != nil {
			return
		}
		for _, t := range meta.Topics {
			topics[t] = true
		}
	}
	g.subscribed, g.subscribedKnown = topics, true
}

// isSubscribedTo: an unknown subscription counts as subscribed.
func (g *group) isSubscribedTo(topic string) bool {
	if g.cg != nil {
		_, ok := g.cg.subMeta[topic]
		return ok
	}
	if !g.subscribedKnown {
		return true
	}
	return g.subscribed[topic]
}

// initNextGeneration ends a join phase.
//
// INVARIANT: one member owns a given generation's assignment; the
// generation increases by exactly one per completed join phase, here and
// nowhere else (replay only restores it).
func (g *group) initNextGeneration(s *shard) {
	g.generation++
	if len(g.members) > 0 {
		g.protocolName = g.selectProtocol()
		g.computeSubscribed()
		g.transition(s, stateCompletingRebalance)
	} else {
		g.protocolName = ""
		g.computeSubscribed()
		g.transition(s, stateEmpty)
	}
	clear(g.pendSync)
}

// stopAll answers every parked request with code and stops the group's
// timers (shard shutdown, group deletion).
func (g *group) stopAll(code int16) {
	for _, m := range g.members {
		if m.join != nil {
			w := m.join
			m.join = nil
			w.reply(joinError(m.id, code))
		}
		if m.sync != nil {
			w := m.sync
			m.sync = nil
			w.reply(syncError(code))
		}
		m.heartbeat.stop()
	}
	for _, t := range g.pending {
		t.stop()
	}
	g.joinTimer.stop()
	g.syncTimer.stop()
	if g.cg != nil {
		for _, m := range g.cg.members {
			m.session.stop()
			m.rebalance.stop()
		}
	}
}

// isEmpty: no members (either type).
func (g *group) isEmpty() bool {
	if g.cg != nil {
		return len(g.cg.members) == 0
	}
	return g.state == stateEmpty
}

// typeName is the group type ListGroups reports.
func (g *group) typeName() string {
	if g.cg != nil {
		return "consumer"
	}
	return "classic"
}

// isEmptyShell: nothing worth keeping (no members, offsets or history).
func (g *group) isEmptyShell() bool {
	return g.cg == nil && g.state == stateEmpty && len(g.members) == 0 && len(g.pending) == 0 &&
		len(g.offsets) == 0 && len(g.pendingCommits) == 0 && g.generation == 0 && g.protocolType == ""
}

package coordinator

import (
	"maps"
	"slices"
	"time"
)

// The KIP-848 consumer group ("consumer" group type), kept in the same
// group struct as a classic group: a group is one or the other, and
// g.cg != nil marks the consumer type. Offsets are shared by both types
// (g.offsets), so everything about committed offsets works unchanged.
//
// Invariants (checked by checkOwners in tests):
//   - one owner per partition at any time within a group: a partition is in
//     the assigned or pending-revocation set of at most one member, and
//     cg.owners maps it to that member;
//   - a member's epoch only grows while it stays in the group (it only
//     moves to the target assignment epoch, which is never below it);
//   - assignmentEpoch <= groupEpoch.

// memberState is Kafka's ConsumerGroupMember state.
type memberState int8

const (
	memberStable               memberState = iota // reconciled to its epoch's target
	memberUnrevokedPartitions                     // waiting for the member to revoke partitions
	memberUnreleasedPartitions                    // waiting for other members to release partitions
)

var memberStateNames = [...]string{"stable", "unrevoked_partitions", "unreleased_partitions"}

func (s memberState) String() string { return memberStateNames[s] }

// Member epochs with a meaning in requests.
const (
	leaveEpoch       = -1 // dynamic member leaves
	leaveStaticEpoch = -2 // static member leaves temporarily
)

// tpid is a partition by topic ID.
type tpid struct {
	id uuid
	p  int32
}

// parts is a set of partitions by topic ID; each slice is sorted and has
// no duplicates, and no slice is empty.
type parts map[uuid][]int32

func (a parts) clone() parts {
	out := make(parts, len(a))
	for id, ps := range a {
		out[id] = slices.Clone(ps)
	}
	return out
}

func (a parts) has(id uuid, p int32) bool {
	_, ok := slices.BinarySearch(a[id], p)
	return ok
}

func (a parts) count() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

func (a parts) each(fn func(tpid)) {
	for _, id := range slices.SortedFunc(maps.Keys(a), compareUUID) {
		for _, p := range a[id] {
			fn(tpid{id, p})
		}
	}
}

func (a parts) equal(b parts) bool {
	if len(a) != len(b) {
		return false
	}
	for id, ps := range a {
		if !slices.Equal(ps, b[id]) {
			return false
		}
	}
	return true
}

// add puts p in the set.
func (a parts) add(id uuid, p int32) {
	ps := a[id]
	i, ok := slices.BinarySearch(ps, p)
	if !ok {
		a[id] = slices.Insert(ps, i, p)
	}
}

func partsOf(tps []tpid) parts {
	out := parts{}
	for _, t := range tps {
		out.add(t.id, t.p)
	}
	return out
}

// ownedParts converts a heartbeat's owned partitions (nil stays nil:
// "unchanged since the last request").
func ownedParts(topics []ownedTopic) parts {
	if topics == nil {
		return nil
	}
	out := parts{}
	for _, t := range topics {
		for _, p := range t.partitions {
			out.add(t.id, p)
		}
	}
	return out
}

type ownedTopic struct {
	id         uuid
	partitions []int32
}

func compareUUID(a, b uuid) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

// cmember is one member of a consumer group.
type cmember struct {
	id         string
	instanceID *string
	rackID     *string
	clientID   string
	clientHost string

	rebalanceTimeout time.Duration
	subscribed       []string // sorted topic names
	regex            string   // "" when none
	assignor         string   // the server assignor it asked for, "" for none

	epoch     int32
	prevEpoch int32
	state     memberState
	assigned  parts // what the member owns (and was told)
	pending   parts // partitions it must revoke (still owned)
	// assignedAt is the member epoch at which each assigned partition was
	// given to the member (offset commits of older epochs are stale,
	// KIP-1251). Not persisted: after a restart commits are checked
	// against the member epoch alone.
	assignedAt map[tpid]int32

	session   *timer
	rebalance *timer
}

// consumerGroup is the KIP-848 state of a group.
type consumerGroup struct {
	groupEpoch      int32
	assignmentEpoch int32
	assignorName    string // the assignor of the current target
	members         map[string]*cmember
	static          map[string]string // instance id -> member id
	target          map[string]parts  // member id -> target assignment (assignmentEpoch)
	owners          map[tpid]string   // partition -> member owning it (assigned or pending revocation)
	// subMeta is the subscribed topics' metadata (name -> id, partition
	// count) the target assignment was computed from; a change bumps the
	// group epoch.
	subMeta map[string]TopicInfo
	// metaVersion is the Topics version subMeta was last checked at.
	metaVersion int64
	// regexes caches regex resolutions at metaVersion.
	regexes map[string][]string
	// emptySince is when the group last lost its last member (offset
	// retention of an empty group).
	emptySince time.Time
}

func newConsumerGroup(now time.Time) *consumerGroup {
	return &consumerGroup{
		members: map[string]*cmember{}, static: map[string]string{}, target: map[string]parts{},
		owners: map[tpid]string{}, subMeta: map[string]TopicInfo{}, metaVersion: -2,
		regexes: map[string][]string{}, emptySince: now,
	}
}

// state is the group state ConsumerGroupDescribe and ListGroups report.
func (cg *consumerGroup) state() string {
	switch {
	case len(cg.members) == 0:
		return "Empty"
	case cg.groupEpoch > cg.assignmentEpoch:
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.state != memberStable || m.epoch != cg.assignmentEpoch {
			return "Reconciling"
		}
	}
	return "Stable"
}

// sortedMembers lists members by id (deterministic output).
func (cg *consumerGroup) sortedMembers() []*cmember {
	out := make([]*cmember, 0, len(cg.members))
	for _, id := range slices.Sorted(maps.Keys(cg.members)) {
		out = append(out, cg.members[id])
	}
	return out
}

// ownerOf is the member owning t, "" when free.
func (cg *consumerGroup) ownerOf(t tpid) string { return cg.owners[t] }

// setAssignment replaces m's assigned and pending sets, keeping owners in
// step. It reports false (and changes nothing) if a partition is owned by
// another member: the one-owner invariant would break.
func (cg *consumerGroup) setAssignment(m *cmember, assigned, pending parts) bool {
	ok := true
	check := func(t tpid) {
		if o := cg.owners[t]; o != "" && o != m.id {
			ok = false
		}
	}
	assigned.each(check)
	pending.each(check)
	if !ok {
		return false
	}
	cg.release(m)
	m.assigned, m.pending = assigned, pending
	set := func(t tpid) { cg.owners[t] = m.id }
	assigned.each(set)
	pending.each(set)
	return true
}

// release frees every partition m owns.
func (cg *consumerGroup) release(m *cmember) {
	free := func(t tpid) {
		if cg.owners[t] == m.id {
			delete(cg.owners, t)
		}
	}
	m.assigned.each(free)
	m.pending.each(free)
}

// subscribedTopics is the union of every member's subscription (names and
// regex matches), sorted.
func (cg *consumerGroup) subscribedTopics(topics Topics) []string {
	set := map[string]bool{}
	for _, m := range cg.members {
		for _, t := range cg.memberTopics(m, topics) {
			set[t] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// memberTopics is m's subscription resolved against topics (existing
// topics only for the regex; named topics are kept even when missing).
func (cg *consumerGroup) memberTopics(m *cmember, topics Topics) []string {
	if m.regex == "" {
		return m.subscribed
	}
	out := slices.Clone(m.subscribed)
	out = append(out, cg.resolveRegex(m.regex, topics)...)
	slices.Sort(out)
	return slices.Compact(out)
}

// resolveRegex matches re against every topic name (cached per metadata
// version). Kafka matches the whole name; internal topics are not
// skipped, as in Kafka.
func (cg *consumerGroup) resolveRegex(re string, topics Topics) []string {
	if v := topics.Version(); v != cg.metaVersion {
		clear(cg.regexes)
		cg.metaVersion = v
	}
	if out, ok := cg.regexes[re]; ok {
		return out
	}
	rx, err := compileTopicRegex(re)
	var out []string
	if err == nil {
		for _, n := range topics.Names() {
			if rx.MatchString(n) {
				out = append(out, n)
			}
		}
	}
	cg.regexes[re] = out
	return out
}

// computeSubMeta is the metadata of every subscribed topic that exists.
func (cg *consumerGroup) computeSubMeta(topics Topics) map[string]TopicInfo {
	out := map[string]TopicInfo{}
	for _, n := range cg.subscribedTopics(topics) {
		if ti, ok := topics.ByName(n); ok {
			out[n] = ti
		}
	}
	return out
}

// preferredAssignor is the server assignor most members asked for (ties
// to the first configured), else the default (the first configured).
func (cg *consumerGroup) preferredAssignor(configured []string) string {
	votes := map[string]int{}
	for _, m := range cg.members {
		if m.assignor != "" {
			votes[m.assignor]++
		}
	}
	best, n := configured[0], 0
	for _, a := range configured {
		if votes[a] > n {
			best, n = a, votes[a]
		}
	}
	return best
}

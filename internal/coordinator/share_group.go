package coordinator

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/config"
)

// Share groups (KIP-932) live in shard.shares, apart from classic and
// consumer groups (shard.groups): a group id is in at most one of the two
// maps, which is how the group types stay exclusive. A share group has no
// committed offsets (its progress is share-partition state, kept by
// internal/share), so none of the offset code ever sees one.

// Broker property defaults of share groups (Kafka 4.2).
const (
	defaultShareMaxSize = 200
)

func shareConfigFrom(b *config.Broker, c *Config) {
	c.Broker = b
	en := b.EffectiveValue("group.share.enable")
	c.ShareEnabled = en == "" || strings.EqualFold(en, "true")
	if n, err := strconv.Atoi(b.EffectiveValue("group.share.max.size")); err == nil && n > 0 {
		c.ShareMaxSize = n
	}
}

// shareDefaults fills share settings a Config built by hand left zero;
// a hand-built Config (tests) serves share groups.
func shareDefaults(c *Config) {
	if c.Broker == nil {
		c.ShareEnabled = true
	}
	if c.ShareMaxSize <= 0 {
		c.ShareMaxSize = defaultShareMaxSize
	}
}

// ShareEnabled reports whether share groups are served (and the share
// APIs advertised): group.share.enable, true by default as in Kafka 4.2.
func (c *Coordinator) ShareEnabled() bool { return c.cfg.ShareEnabled }

// smember is one member of a share group.
type smember struct {
	id         string
	rackID     *string
	clientID   string
	clientHost string
	subscribed []string // sorted topic names
	epoch      int32
	prevEpoch  int32
	assigned   parts // the member's assignment at its epoch (what it was told)
	session    *timer
}

// shareGroup is one share group. Unlike a consumer group there is no
// reconciliation: a partition may be assigned to several members, so a
// member moves to the target assignment (and its epoch) in one heartbeat.
type shareGroup struct {
	id              string
	groupEpoch      int32
	assignmentEpoch int32
	members         map[string]*smember
	target          map[string]parts // member id -> target at assignmentEpoch
	// subMeta is the subscribed topics' metadata the target was computed
	// from; a change bumps the group epoch.
	subMeta     map[string]TopicInfo
	metaVersion int64
	createdAt   time.Time
}

func newShareGroup(id string, now time.Time) *shareGroup {
	return &shareGroup{id: id, members: map[string]*smember{}, target: map[string]parts{},
		subMeta: map[string]TopicInfo{}, metaVersion: -2, createdAt: now}
}

// stopTimers stops the members' session timers (the shard stops).
func (sg *shareGroup) stopTimers() {
	for _, m := range sg.members {
		m.session.stop()
	}
}

// state is Kafka's ShareGroupState as ListGroups and ShareGroupDescribe
// report it.
func (sg *shareGroup) state() string {
	if len(sg.members) == 0 {
		return "Empty"
	}
	return "Stable"
}

func (sg *shareGroup) sortedMembers() []*smember {
	out := make([]*smember, 0, len(sg.members))
	for _, id := range slices.Sorted(maps.Keys(sg.members)) {
		out = append(out, sg.members[id])
	}
	return out
}

// subscribedTopics is the union of the members' subscriptions, sorted.
func (sg *shareGroup) subscribedTopics() []string {
	set := map[string]bool{}
	for _, m := range sg.members {
		for _, t := range m.subscribed {
			set[t] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// computeSubMeta is the metadata of every subscribed topic that exists.
func (sg *shareGroup) computeSubMeta(topics Topics) map[string]TopicInfo {
	out := map[string]TopicInfo{}
	for _, n := range sg.subscribedTopics() {
		if ti, ok := topics.ByName(n); ok {
			out[n] = ti
		}
	}
	return out
}

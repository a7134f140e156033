package coordinator

import (
	"strconv"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/share"
)

// The coordinator's side of the seam with internal/share (seam.go there):
// *Coordinator implements share.Groups, and is handed the share-partition
// State after construction (the broker builds the share manager with the
// coordinator as its Groups, then calls SetShareState).

var _ share.Groups = (*Coordinator)(nil)

// SetShareState gives the coordinator the share-partition state it answers
// the share group offset APIs and DeleteGroups with. nil means the state
// is unavailable: those APIs answer COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) SetShareState(s share.State) {
	if s == nil {
		c.shareState.Store(nil)
		return
	}
	c.shareState.Store(&s)
}

// state returns the share-partition state, nil when not set.
func (c *Coordinator) state() share.State {
	if p := c.shareState.Load(); p != nil {
		return *p
	}
	return nil
}

// GroupType reports the type of the group named id (share.GroupType*),
// share.GroupTypeNone when there is none. It asks the group's shard loop,
// so it reflects every request the shard ran before; a shard still
// loading answers once its load is done.
func (c *Coordinator) GroupType(id string) string {
	ss := c.allShards()
	if id == "" || ss == nil {
		return share.GroupTypeNone
	}
	s := ss[PartitionFor(id, int32(len(ss)))]
	return <-call(s, func(int16) string { return share.GroupTypeNone }, func(reply func(string)) {
		reply(s.groupType(id))
	})
}

func (s *shard) groupType(id string) string {
	if s.shares[id] != nil {
		return share.GroupTypeShare
	}
	g := s.groups[id]
	switch {
	case g == nil:
		return share.GroupTypeNone
	case g.cg != nil:
		return share.GroupTypeConsumer
	}
	return share.GroupTypeClassic
}

// ShareSettings is the share group's effective settings: its group
// configs over the broker's defaults. It reads the metadata image only,
// so it is cheap and safe from any goroutine; a group without configs
// (or that does not exist) gets the broker defaults.
func (c *Coordinator) ShareSettings(group string) share.Settings {
	over := c.be.GroupConfigs(group)
	b := c.cfg.Broker
	get := func(name string) string { return strings.TrimSpace(config.GroupValue(b, over, name)) }
	out := share.Settings{
		AutoOffsetReset:      strings.ToLower(get(config.GroupShareAutoOffsetReset)),
		ReadCommitted:        get(config.GroupShareIsolationLevel) == "read_committed",
		DeliveryAttemptLimit: 5,
		RecordLockDuration:   30 * time.Second,
	}
	if strings.HasPrefix(out.AutoOffsetReset, "by_duration:") {
		// Keep the duration as written (ISO-8601 is case-sensitive to
		// Java only in the designators, which ParseISODuration folds).
		out.AutoOffsetReset = get(config.GroupShareAutoOffsetReset)
	}
	if ms, err := strconv.ParseInt(get(config.GroupShareRecordLockDuration), 10, 64); err == nil && ms > 0 {
		out.RecordLockDuration = time.Duration(ms) * time.Millisecond
	}
	if n := b.Share().DeliveryCountLimit; n > 0 {
		out.DeliveryAttemptLimit = n
	}
	return out
}

// shareTimeouts are a share group's session timeout and heartbeat
// interval (group configs over the broker defaults).
func (c *Coordinator) shareTimeouts(group string) (session, interval time.Duration) {
	over := c.be.GroupConfigs(group)
	b := c.cfg.Broker
	ms := func(name string, def int64) time.Duration {
		n, err := strconv.ParseInt(strings.TrimSpace(config.GroupValue(b, over, name)), 10, 64)
		if err != nil || n <= 0 {
			n = def
		}
		return time.Duration(n) * time.Millisecond
	}
	return ms(config.GroupShareSessionTimeout, 45000), ms(config.GroupShareHeartbeatInterval, 5000)
}

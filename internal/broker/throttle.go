package broker

import (
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/quota"
)

// Replication throttles (KIP-73): one quota.Replication for the leader
// side (api/fetch_replica.go) and one for the follower side
// (replica/fetcher.go), following the image: the rates are this broker's
// {leader,follower}.replication.throttled.rate (dynamic), the throttled
// partitions those whose topic's {leader,follower}.replication.
// throttled.replicas pair them with this broker (or "*").

// throttles is the broker's pair of replication throttles.
type throttles struct {
	leader, follower *quota.Replication
}

func (b *Broker) newThrottles() {
	n, w := b.cfg.ReplicationQuotaWindow()
	b.throttle = throttles{leader: quota.NewReplication(n, w, nil), follower: quota.NewReplication(n, w, nil)}
}

// applyThrottles installs the rates (after applyDynamicConfigs) and the
// throttled partitions of img.
func (b *Broker) applyThrottles(img *metadata.Image) {
	lr, fr := b.cfg.ReplicationThrottledRates()
	b.throttle.leader.SetRate(lr)
	b.throttle.follower.SetRate(fr)
	b.throttle.leader.SetThrottled(throttledTopics(img, config.LeaderThrottledReplicasKey, b.cfg.NodeID))
	b.throttle.follower.SetThrottled(throttledTopics(img, config.FollowerThrottledReplicasKey, b.cfg.NodeID))
}

// throttledTopics is every topic whose config key throttles a partition
// on broker id.
func throttledTopics(img *metadata.Image, key string, id int32) map[string]quota.Throttled {
	var out map[string]quota.Throttled
	for name, t := range img.TopicsByName {
		v, ok := t.Configs[key]
		if !ok {
			continue
		}
		all, parts := config.ThrottledPartitions(v, id)
		if !all && len(parts) == 0 {
			continue
		}
		th := quota.Throttled{All: all}
		if len(parts) > 0 {
			th.Parts = make(map[int32]bool, len(parts))
			for _, p := range parts {
				th.Parts[p] = true
			}
		}
		if out == nil {
			out = map[string]quota.Throttled{}
		}
		out[name] = th
	}
	return out
}

package api

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/replica"
	"github.com/sluice-io/sluice/internal/server"
)

// leaderHint is who leads a partition this broker does not (KIP-951's
// CurrentLeader): -1 when unknown.
type leaderHint struct {
	ID, Epoch int32
}

// leaderOf is the one place handlers learn whether this broker leads a
// partition. It returns the local partition, or the error code for the
// client and, for NOT_LEADER_OR_FOLLOWER, the leader the image names:
//   - UNKNOWN_TOPIC_OR_PARTITION when the image has no such partition (or
//     it leads here but is not open: a failed open);
//   - NOT_LEADER_OR_FOLLOWER when the image names another leader, or none.
//
// The image is the caller's, so one request judges every partition by one
// image.
func (e *Env) leaderOf(img *metadata.Image, topic string, partition int32) (*replica.Partition, int16, leaderHint) {
	none := leaderHint{-1, -1}
	t, ok := img.TopicsByName[topic]
	if !ok || partition < 0 || int(partition) >= len(t.Partitions) {
		return nil, kerr.UnknownTopicOrPartition.Code, none
	}
	pi := t.Partitions[partition]
	if pi.Leader != e.NodeID {
		return nil, kerr.NotLeaderForPartition.Code, leaderHint{pi.Leader, pi.LeaderEpoch}
	}
	p := e.Parts.Get(topic, partition)
	if p == nil {
		return nil, kerr.UnknownTopicOrPartition.Code, none
	}
	return p, 0, none
}

// hintBrokers collects the endpoints of the leaders named in hints, for
// the NodeEndpoints of Produce (v10+) and Fetch (v16+) responses, so a
// client reaches a new leader without a Metadata round trip (KIP-951).
// The zero value is empty; most requests never add one, so the map is made
// on the first add and an empty set costs nothing (a tailing consumer's
// fetch is answered thousands of times a second).
type hintBrokers map[int32]bool

func (h *hintBrokers) add(hint leaderHint) {
	if hint.ID < 0 {
		return
	}
	if *h == nil {
		*h = hintBrokers{}
	}
	(*h)[hint.ID] = true
}

// endpoints returns the hinted brokers as reached on req's listener.
func (h hintBrokers) endpoints(e *Env, req *server.Request, img *metadata.Image) []liveBroker {
	if len(h) == 0 {
		return nil
	}
	var out []liveBroker
	for _, lb := range e.liveBrokers(req, img) {
		if h[lb.ID] {
			out = append(out, lb)
		}
	}
	return out
}

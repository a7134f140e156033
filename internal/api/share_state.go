package api

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/server"
)

// The share-group state APIs (keys 83-87) are inter-broker: a broker's
// share-partition side (internal/share's persister) sends them to the
// share coordinator leading the key's __share_group_state partition, and
// the group coordinator's share admin APIs do. As in Kafka they need
// CLUSTER_ACTION on the cluster, and each is answered once its change is
// durable. They are served where share groups are (shareEnabled).

// shareStateDenied reports whether the request lacks CLUSTER_ACTION.
func shareStateDenied(e *Env, req *server.Request) bool {
	return !authorizer(e, req).cluster(auth.OpClusterAction)
}

// shareStateKey checks one share-partition of a state request, as Kafka's
// share coordinator does: a group id, a topic id and a partition the
// metadata knows.
func shareStateKey(img *metadata.Image, group string, topicID [16]byte, p int32) int16 {
	if group == "" || topicID == ([16]byte{}) || p < 0 {
		return kerr.InvalidRequest.Code
	}
	t := img.TopicsByID[metadata.UUID(topicID)]
	if t == nil || int(p) >= len(t.Partitions) {
		return kerr.UnknownTopicOrPartition.Code
	}
	return 0
}

// shareStateMessage is the message a state API error carries.
func shareStateMessage(code int16) *string {
	if code == 0 {
		return nil
	}
	msg := kerr.ErrorForCode(code).Error()
	return &msg
}

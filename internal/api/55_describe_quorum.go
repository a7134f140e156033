package api

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(55, 0, 2, handleDescribeQuorum) }

// metadataTopic is KRaft's metadata log partition, the quorum's log.
const metadataTopic = "__cluster_metadata"

// handleDescribeQuorum describes the metadata quorum. Until the raft quorum
// lands this node is a one-voter quorum: it leads, every record it appended
// is committed once durable, so the high watermark is its log end.
func handleDescribeQuorum(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DescribeQuorumRequest)
	resp := kmsg.NewPtrDescribeQuorumResponse()
	end := e.Meta.Image().Offset + 1
	now := time.Now().UnixMilli()
	for _, rt := range r.Topics {
		t := kmsg.NewDescribeQuorumResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewDescribeQuorumResponseTopicPartition()
			p.Partition = rp.Partition
			if rt.Topic != metadataTopic || rp.Partition != 0 {
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
				msg := "the metadata quorum's log is " + metadataTopic + "-0"
				p.ErrorMessage = &msg
				p.LeaderID = -1
				t.Partitions = append(t.Partitions, p)
				continue
			}
			p.LeaderID, p.LeaderEpoch, p.HighWatermark = e.NodeID, 1, end
			v := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
			v.ReplicaID, v.LogEndOffset = e.NodeID, end
			v.LastFetchTimestamp, v.LastCaughtUpTimestamp = now, now
			p.CurrentVoters = append(p.CurrentVoters, v)
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	n := kmsg.NewDescribeQuorumResponseNode()
	n.NodeID = e.NodeID
	for _, name := range e.listenerNames() {
		l := kmsg.NewDescribeQuorumResponseNodeListener()
		ep := e.Endpoints[name]
		l.Name, l.Host, l.Port = name, ep.Host, uint16(ep.Port)
		n.Listeners = append(n.Listeners, l)
	}
	if len(n.Listeners) == 0 {
		l := kmsg.NewDescribeQuorumResponseNodeListener()
		l.Name, l.Host, l.Port = "PLAINTEXT", e.Host, uint16(e.Port)
		n.Listeners = append(n.Listeners, l)
	}
	resp.Nodes = append(resp.Nodes, n)
	return server.Ready(&server.Response{Msg: resp})
}

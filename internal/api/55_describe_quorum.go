package api

import (
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/raft"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(55, 0, 2, handleDescribeQuorum) }

// metadataTopic is KRaft's metadata log partition, the quorum's log.
const metadataTopic = "__cluster_metadata"

// handleDescribeQuorum describes the metadata quorum from this member's
// raft status: the leader and epoch it knows, its high watermark (the
// last committed index, as a log end offset), and the voters. The leader
// knows every voter's log end (its match index) and when it last heard
// from it; a follower knows only its own, and reports -1 for the others.
func handleDescribeQuorum(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DescribeQuorumRequest)
	resp := kmsg.NewPtrDescribeQuorumResponse()
	st := e.Meta.QuorumStatus()
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
			p.LeaderID, p.LeaderEpoch, p.HighWatermark = metadata.NodeID(st.Leader), int32(st.Term), int64(st.Commit)
			p.CurrentVoters = quorumReplicas(st, st.Voters)
			p.Observers = quorumReplicas(st, observerIDs(st))
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	resp.Nodes = quorumNodes(e, st)
	return server.Ready(&server.Response{Msg: resp})
}

// observerIDs are the members without a vote: raft learners, the
// broker-only nodes that fetched from this member, and this node itself
// when it is one of them.
func observerIDs(st raft.Status) []uint64 {
	ids := slices.Clone(st.Learners)
	for _, o := range st.Observers {
		ids = append(ids, o.ID)
	}
	if !slices.Contains(st.Voters, st.ID) && !slices.Contains(ids, st.ID) {
		ids = append(ids, st.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// quorumReplicas describes members: log end offset = the last index held
// (the match index the leader knows, or this member's own).
func quorumReplicas(st raft.Status, ids []uint64) []kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
	var out []kmsg.DescribeQuorumResponseTopicPartitionReplicaState
	for _, id := range ids {
		v := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		v.ReplicaID, v.LogEndOffset, v.LastFetchTimestamp, v.LastCaughtUpTimestamp = metadata.NodeID(id), -1, -1, -1
		for _, rs := range slices.Concat(st.Replicas, st.Observers) {
			if rs.ID == id {
				v.LogEndOffset = int64(rs.Match)
				if !rs.LastFetch.IsZero() {
					v.LastFetchTimestamp = rs.LastFetch.UnixMilli()
					if rs.Match >= st.Commit {
						v.LastCaughtUpTimestamp = v.LastFetchTimestamp
					}
				}
			}
		}
		if id == st.ID && len(st.Replicas) == 0 {
			now := time.Now().UnixMilli()
			v.LogEndOffset, v.LastFetchTimestamp = int64(st.LastIndex), now
			if st.LastIndex >= st.Commit {
				v.LastCaughtUpTimestamp = now
			}
		}
		out = append(out, v)
	}
	return out
}

// quorumNodes lists the voters' controller endpoints (DescribeQuorum v2).
// A one-voter quorum without a controller listener names this node's
// client listeners, as before the quorum existed.
func quorumNodes(e *Env, st raft.Status) []kmsg.DescribeQuorumResponseNode {
	addrs := e.Meta.VoterAddrs()
	if len(addrs) == 0 {
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
		return []kmsg.DescribeQuorumResponseNode{n}
	}
	listener := "CONTROLLER"
	if names := e.Cfg.ControllerListenerNames(); len(names) > 0 {
		listener = names[0]
	}
	var out []kmsg.DescribeQuorumResponseNode
	for _, id := range slices.Sorted(maps.Keys(addrs)) {
		host, port, _ := net.SplitHostPort(addrs[id])
		p, _ := strconv.Atoi(port)
		n := kmsg.NewDescribeQuorumResponseNode()
		n.NodeID = id
		l := kmsg.NewDescribeQuorumResponseNodeListener()
		l.Name, l.Host, l.Port = listener, host, uint16(p)
		n.Listeners = append(n.Listeners, l)
		out = append(out, n)
	}
	return out
}

package cluster

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// quorumOf asks node nd itself (not whichever broker a client would
// route to) for the metadata quorum (DescribeQuorum).
func quorumOf(t testing.TB, nd *node) (kmsg.DescribeQuorumResponseTopicPartition, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.SeedBrokers()[0].Request(ctx(t), req)
	if err != nil {
		return kmsg.DescribeQuorumResponseTopicPartition{}, err
	}
	r := resp.(*kmsg.DescribeQuorumResponse)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		return kmsg.DescribeQuorumResponseTopicPartition{}, fmt.Errorf("answer %+v", r)
	}
	p := r.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return p, err
	}
	return p, nil
}

// TestQuorumOfThreeProcesses: three combined sluice processes form one
// metadata quorum; every node reports the same leader; after a SIGKILL of
// the leader the other two elect a new one, still answer DescribeQuorum and
// still commit metadata: a topic created through any node appears in every
// live node's image.
func TestQuorumOfThreeProcesses(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)

	leader := func(live []*node, not int32) int32 {
		var lead int32
		waitFor(t, 20*electionTimeout*5, "every live node to report one leader", func() error {
			lead = -1
			for _, nd := range live {
				q, err := quorumOf(t, nd)
				if err != nil {
					return err
				}
				if q.LeaderID < 0 || q.LeaderID == not {
					return fmt.Errorf("node %d says leader %d", nd.id, q.LeaderID)
				}
				if len(q.CurrentVoters) != 3 {
					return fmt.Errorf("node %d lists %d voters", nd.id, len(q.CurrentVoters))
				}
				if lead != -1 && q.LeaderID != lead {
					return fmt.Errorf("node %d says leader %d, another says %d", nd.id, q.LeaderID, lead)
				}
				lead = q.LeaderID
			}
			return nil
		})
		return lead
	}
	topicEverywhere := func(live []*node, topic string) {
		waitFor(t, 10*electionTimeout*5, topic+" on every live node", func() error {
			for _, nd := range live {
				ts, err := nd.admin(t).ListTopics(ctx(t))
				if err != nil {
					return err
				}
				if !ts.Has(topic) {
					return fmt.Errorf("node %d does not know %s", nd.id, topic)
				}
			}
			return nil
		})
	}
	createVia := func(nd *node, topic string) {
		waitFor(t, 10*electionTimeout*5, "create "+topic+" through node "+fmt.Sprint(nd.id), func() error {
			r, err := nd.admin(t).CreateTopic(ctx(t), 1, 1, nil, topic)
			if err != nil {
				return err
			}
			if r.Err != nil && !strings.Contains(r.Err.Error(), "TOPIC_ALREADY_EXISTS") {
				return r.Err
			}
			return nil
		})
	}

	old := leader(c.nodes, -1)
	// Through every node, leader or follower (a follower forwards to the
	// leader).
	for _, nd := range c.nodes {
		createVia(nd, fmt.Sprintf("before-%d", nd.id))
	}
	for _, nd := range c.nodes {
		topicEverywhere(c.nodes, fmt.Sprintf("before-%d", nd.id))
	}

	// sluice cluster info from any node shows the voters and the leader.
	for _, nd := range c.nodes {
		out, err := exec.Command(c.bin, "cluster", "info", "--brokers", nd.addr()).CombinedOutput()
		if err != nil {
			t.Fatalf("cluster info via node %d: %v\n%s", nd.id, err, out)
		}
		if !strings.Contains(string(out), fmt.Sprintf("leader %d", old)) {
			t.Fatalf("cluster info via node %d does not name leader %d:\n%s", nd.id, old, out)
		}
	}

	// SIGKILL the leader: the two others elect a new one and go on.
	var live []*node
	for _, nd := range c.nodes {
		if nd.id == old {
			nd.kill()
		} else {
			live = append(live, nd)
		}
	}
	if lead := leader(live, old); lead == old || !slices.ContainsFunc(live, func(n *node) bool { return n.id == lead }) {
		t.Fatalf("leader after the kill: %d (killed %d)", lead, old)
	}
	for _, nd := range live {
		createVia(nd, fmt.Sprintf("after-%d", nd.id))
	}
	for _, nd := range live {
		topicEverywhere(live, fmt.Sprintf("after-%d", nd.id))
	}

	// The killed node comes back and catches up on what it missed.
	for _, nd := range c.nodes {
		if nd.id == old {
			nd.start()
			nd.waitListening()
			for _, o := range live {
				topicEverywhere([]*node{nd}, fmt.Sprintf("after-%d", o.id))
			}
		}
	}
}

package testcluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// WaitFor polls cond every 20 ms until it returns nil, and fails the test
// with cond's last error after WaitTimeout.
func (c *Cluster) WaitFor(what string, cond func() error) {
	c.t.Helper()
	c.WaitForWithin(WaitTimeout, what, cond)
}

// WaitForWithin is WaitFor with its own deadline.
func (c *Cluster) WaitForWithin(d time.Duration, what string, cond func() error) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("testcluster: timed out after %s waiting for %s: %v", d, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Request sends req to node i through the fixture's network (as a client:
// Isolate and Pause apply) with kmsg, at the highest version both sides
// know, and returns its response. Requests on one node share one
// pipelined connection, so one stalled by a Pause delays the next.
func (c *Cluster) Request(ctx context.Context, i int, req kmsg.Request) (kmsg.Response, error) {
	return c.probe.Request(ctx, c.nodes[i].id, req)
}

// Metadata asks node i for the metadata of topics (every topic when
// none), never creating one; it gives up after two seconds.
func (c *Cluster) Metadata(i int, topics ...string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.Request(ctx, i, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// Leader is the node that leads the metadata quorum (the active
// controller) as the nodes themselves see it: of the running nodes that
// lead and have applied their term's first entry, the one with the
// highest term (an isolated old leader keeps believing it leads for up
// to an election timeout, at a lower term). Nil when none does.
func (c *Cluster) Leader() *Node {
	var best *Node
	var term uint64
	for _, nd := range c.nodes {
		b := nd.Broker()
		if b == nil {
			continue
		}
		if st := b.QuorumStatus(); st.IsLeader && st.Ready && st.Term > term {
			best, term = nd, st.Term
		}
	}
	return best
}

// WaitLeader waits until the quorum has a leader that a majority of the
// voters follow (same leader, same term) and returns it.
func (c *Cluster) WaitLeader() *Node {
	c.t.Helper()
	var leader *Node
	c.WaitFor("a metadata quorum leader", func() error {
		leader = c.Leader()
		if leader == nil {
			return errors.New("no node leads the quorum")
		}
		lst := leader.Broker().QuorumStatus()
		agree := 0
		for _, nd := range c.nodes {
			if b := nd.Broker(); b != nil && !nd.observer {
				if st := b.QuorumStatus(); st.Leader == lst.ID && st.Term == lst.Term {
					agree++
				}
			}
		}
		if agree <= c.voters/2 {
			return fmt.Errorf("%d of %d voters follow %s at term %d", agree, c.voters, leader, lst.Term)
		}
		return nil
	})
	return leader
}

// WaitNewLeader waits until a leader other than node old's index leads
// (a majority following it) and returns it.
func (c *Cluster) WaitNewLeader(old int) *Node {
	c.t.Helper()
	var leader *Node
	c.WaitFor(fmt.Sprintf("a quorum leader other than %s", c.nodes[old]), func() error {
		leader = c.Leader()
		if leader == nil || leader.index == old {
			return fmt.Errorf("leader is %v", leader)
		}
		return nil
	})
	return c.WaitLeader()
}

// askOthers asks Metadata of every reachable node but i (node i itself
// when it is the only one) and calls check on each answer.
func (c *Cluster) askOthers(i int, check func(via int, m *kmsg.MetadataResponse) error) error {
	var vias []int
	for j := range c.nodes {
		if j != i && c.reachable(j) {
			vias = append(vias, j)
		}
	}
	if len(vias) == 0 && len(c.nodes) == 1 {
		vias = []int{i}
	}
	if len(vias) == 0 {
		return errors.New("no reachable node to ask")
	}
	for _, j := range vias {
		m, err := c.Metadata(j)
		if err != nil {
			return fmt.Errorf("Metadata from %s: %w", c.nodes[j], err)
		}
		if err := check(j, m); err != nil {
			return err
		}
	}
	return nil
}

func listsBroker(m *kmsg.MetadataResponse, id int32) bool {
	return slices.ContainsFunc(m.Brokers, func(b kmsg.MetadataResponseBroker) bool { return b.NodeID == id })
}

// WaitFenced waits until every other reachable node's Metadata leaves
// node i out of its live brokers: the controller fenced it.
func (c *Cluster) WaitFenced(i int) {
	c.t.Helper()
	c.WaitFor(fmt.Sprintf("%s fenced", c.nodes[i]), func() error { return c.FencedErr(i) })
}

// FencedErr is WaitFenced's condition, for a wait of the caller's own: nil
// once every other reachable node leaves node i out of its live brokers.
func (c *Cluster) FencedErr(i int) error {
	id := c.nodes[i].id
	return c.askOthers(i, func(via int, m *kmsg.MetadataResponse) error {
		if listsBroker(m, id) {
			return fmt.Errorf("%s still lists node %d", c.nodes[via], id)
		}
		return nil
	})
}

// WaitUnfenced waits until every other reachable node's Metadata lists
// node i among its live brokers (a node always lists itself, so its own
// answer proves nothing; a one-node cluster is asked anyway).
func (c *Cluster) WaitUnfenced(i int) {
	c.t.Helper()
	id := c.nodes[i].id
	c.WaitFor(fmt.Sprintf("%s unfenced", c.nodes[i]), func() error {
		return c.askOthers(i, func(via int, m *kmsg.MetadataResponse) error {
			if !listsBroker(m, id) {
				return fmt.Errorf("%s does not list node %d", c.nodes[via], id)
			}
			return nil
		})
	})
}

// PartitionLeader is the leader of topic's partition p in node via's
// Metadata (-1: leaderless).
func (c *Cluster) PartitionLeader(via int, topic string, p int32) (int32, error) {
	m, err := c.Metadata(via, topic)
	if err != nil {
		return 0, err
	}
	for _, t := range m.Topics {
		if t.ErrorCode != 0 {
			return 0, fmt.Errorf("topic %s: error code %d", topic, t.ErrorCode)
		}
		for _, pm := range t.Partitions {
			if pm.Partition == p {
				return pm.Leader, nil
			}
		}
	}
	return 0, fmt.Errorf("%s has no partition %s-%d", c.nodes[via], topic, p)
}

// WaitPartitionLeader waits until every reachable node names the same
// live leader for topic's partition p and returns its node id.
func (c *Cluster) WaitPartitionLeader(topic string, p int32) int32 {
	c.t.Helper()
	var leader int32
	c.WaitFor(fmt.Sprintf("a leader of %s-%d", topic, p), func() error {
		leader = -1
		for j := range c.nodes {
			if !c.reachable(j) {
				continue
			}
			l, err := c.PartitionLeader(j, topic, p)
			if err != nil {
				return err
			}
			if l < 0 {
				return fmt.Errorf("%s: %s-%d has no leader", c.nodes[j], topic, p)
			}
			if leader >= 0 && l != leader {
				return fmt.Errorf("nodes disagree: leader %d and %d", leader, l)
			}
			leader = l
		}
		if leader < 0 {
			return errors.New("no reachable node")
		}
		return nil
	})
	return leader
}

package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// addBroker starts one more node with process.roles=broker: no vote in the
// metadata quorum, which it follows as an observer.
func (c *testCluster) addBroker(extra ...string) *node {
	c.t.Helper()
	port := freePorts(c.t, 1)[0]
	nd := &node{id: int32(len(c.nodes) + 1), dir: c.t.TempDir(), client: port, cluster: c, extraCfg: extra, observer: true}
	run(c.t, c.bin, "format", "--cluster-id", c.clusterID, "--log-dirs", nd.dir, "--node-id", fmt.Sprint(nd.id))
	c.nodes = append(c.nodes, nd)
	nd.start()
	nd.waitListening()
	return nd
}

// TestBrokerOnlyNodeObserves: a fourth node with process.roles=broker
// follows the quorum without a vote: it catches up from a snapshot (the
// voters snapshot every few records here), registers and is unfenced,
// leads partitions placed on it, sees topics created after it joined
// (through it and elsewhere), and DescribeQuorum lists it as an observer,
// not a voter. Killing it leaves the quorum untouched.
func TestBrokerOnlyNodeObserves(t *testing.T) {
	t.Parallel()
	c := startClusterConfig(t, 3, electionTimeout,
		"metadata.log.max.record.bytes.between.snapshots=2048",
		"broker.heartbeat.interval.ms=100", "broker.session.timeout.ms=1000")
	adm := c.nodes[0].admin(t)
	for i := range 20 { // enough records that the voters snapshot
		if _, err := adm.CreateTopic(ctx(t), 1, 1, nil, fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	b := c.addBroker("broker.heartbeat.interval.ms=100", "broker.session.timeout.ms=1000")
	if !strings.Contains(b.out.String(), "metadata observer: snapshot installed") {
		t.Fatalf("the observer did not catch up from a snapshot:\n%s", tail(b.out.String(), 3000))
	}

	// Registered and unfenced: every node lists broker 4.
	for _, nd := range c.nodes {
		waitFor(t, 10*time.Second, fmt.Sprintf("node %d to list broker 4", nd.id), func() error {
			md, err := metadataOf(t, nd)
			if err != nil {
				return err
			}
			for _, br := range md.Brokers {
				if br.NodeID == b.id {
					return nil
				}
			}
			return fmt.Errorf("brokers %v", md.Brokers)
		})
	}

	// A topic created through the observer (forwarded to the controller)
	// with its partition on the observer: written and read through any node.
	createAssigned(t, b, "on-observer", b.id)
	waitFor(t, 10*time.Second, "node 1 to see on-observer led by 4", func() error {
		l, err := leaderOf(t, c.nodes[0], "on-observer")
		if err != nil {
			return err
		}
		if l != b.id {
			return fmt.Errorf("leader %d", l)
		}
		return nil
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[0].addr()), kgo.ConsumeTopics("on-observer"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx(t), &kgo.Record{Topic: "on-observer", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fs := cl.PollFetches(ctx(t))
	if errs := fs.Errors(); len(errs) > 0 || fs.NumRecords() != 1 {
		t.Fatalf("consumed %d records, errors %v", fs.NumRecords(), errs)
	}

	// A topic created on a voter after the observer joined reaches it.
	if _, err := adm.CreateTopic(ctx(t), 1, 1, nil, "after"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the observer to see topic after", func() error {
		_, err := leaderOf(t, b, "after")
		return err
	})

	// The quorum leader's DescribeQuorum: three voters, broker 4 observing.
	leader := c.nodes[agreedLeader(t, c.nodes[:3], -1)-1]
	waitFor(t, 10*time.Second, "DescribeQuorum to list observer 4", func() error {
		q, err := quorumOf(t, leader)
		if err != nil {
			return err
		}
		var voters, observers []int32
		for _, v := range q.CurrentVoters {
			voters = append(voters, v.ReplicaID)
		}
		for _, o := range q.Observers {
			observers = append(observers, o.ReplicaID)
		}
		slices.Sort(voters)
		if !slices.Equal(voters, []int32{1, 2, 3}) || !slices.Contains(observers, b.id) {
			return fmt.Errorf("voters %v observers %v", voters, observers)
		}
		return nil
	})

	// Killing the observer costs the quorum nothing: topics still commit.
	b.kill()
	if _, err := adm.CreateTopic(ctx(t), 1, 1, nil, "without-observer"); err != nil {
		t.Fatal(err)
	}
}

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// `sluice cluster unregister` (issue #18): the last step of removing a
// broker. On a 4-node cluster, broker 4 is decommissioned (--wait),
// stopped and unregistered: DescribeCluster and `sluice cluster info` no
// longer list it as a broker (info still shows it as a quorum voter, "not
// registered": these nodes are combined broker and controller, and leaving
// the quorum is another request), every record is still readable, and
// unregistering it again, or an id never registered, fails with
// BROKER_ID_NOT_REGISTERED.

// cliVia runs the sluice CLI against the nodes at indexes via.
func cliVia(t *testing.T, c *testcluster.Cluster, via []int, args ...string) (string, error) {
	t.Helper()
	var addrs []string
	for _, i := range via {
		addrs = append(addrs, c.Node(i).Addr())
	}
	bctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(bctx, sluiceBinary(t), append(args, "--brokers", strings.Join(addrs, ","))...).CombinedOutput()
	return string(out), err
}

func TestUnregisterBroker(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 4)
	const topic, parts, n = "shrink", 4, 20
	var assignment [][]int32
	for p := range parts {
		assignment = append(assignment, []int32{int32(p%4 + 1), int32((p+1)%4 + 1)})
	}
	tcCreateReplicas(t, c, topic, assignment)
	cl := producer(t, c)
	for p := range int32(parts) {
		produceTo(t, cl, topic, p, values(fmt.Sprintf("p%d-", p), n)...)
	}
	prefix := func(p int32) string { return fmt.Sprintf("p%d-", p) }
	rest := []int{0, 1, 2}

	out, err := cliVia(t, c, rest, "cluster", "decommission", "--broker", "4", "--wait", "--interval", "100ms")
	if err != nil {
		t.Fatalf("decommission: %v\n%s", err, out)
	}
	c.WaitFor("no replica on broker 4", func() error {
		for p, r := range replicaSets(t, c, 0, topic) {
			if slices.Contains(r, 4) || len(r) != 2 {
				return fmt.Errorf("partition %d replicas %v", p, r)
			}
		}
		return nil
	})
	c.Stop(3)

	out, err = cliVia(t, c, rest, "cluster", "unregister", "--broker", "4")
	if err != nil || !strings.Contains(out, "Broker 4 unregistered.") {
		t.Fatalf("unregister: %v\n%s", err, out)
	}

	// Every remaining node's image drops the registration.
	dcl := c.Client(t)
	for _, i := range rest {
		c.WaitFor(fmt.Sprintf("node %d: DescribeCluster lists brokers 1-3", i+1), func() error {
			req := kmsg.NewPtrDescribeClusterRequest()
			req.IncludeFencedBrokers = true
			r, err := dcl.Broker(int(c.Node(i).ID())).Request(ctx(t), req)
			if err != nil {
				return err
			}
			resp := r.(*kmsg.DescribeClusterResponse)
			var ids []int32
			for _, b := range resp.Brokers {
				ids = append(ids, b.NodeID)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, []int32{1, 2, 3}) {
				return fmt.Errorf("brokers %v", ids)
			}
			return nil
		})
	}
	out, err = cliVia(t, c, rest, "cluster", "info", "--format", "json")
	if err != nil {
		t.Fatalf("cluster info: %v\n%s", err, out)
	}
	var info struct {
		Brokers []struct {
			ID    int32  `json:"id"`
			State string `json:"state"`
		} `json:"brokers"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("cluster info output %q: %v", out, err)
	}
	states := map[int32]string{}
	for _, b := range info.Brokers {
		states[b.ID] = b.State
	}
	want := map[int32]string{1: "running", 2: "running", 3: "running", 4: "not registered"}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Fatalf("cluster info brokers %v, want %v\n%s", states, want, out)
	}
	wantValues(t, consumeAll(t, c, topic, parts, n), prefix, n)

	// Sent to a node that is not the active controller, the request takes
	// the forwarding path (Envelope) and gets the controller's answer.
	follower := (c.WaitLeader().Index() + 1) % 3
	ureq := kmsg.NewPtrUnregisterBrokerRequest()
	ureq.BrokerID = 4
	if r, err := dcl.Broker(int(c.Node(follower).ID())).Request(ctx(t), ureq); err != nil ||
		r.(*kmsg.UnregisterBrokerResponse).ErrorCode != kerr.BrokerIDNotRegistered.Code {
		t.Fatalf("unregister via node %d, not the controller: %v %+v", follower+1, err, r)
	}
	for _, id := range []string{"4", "9"} {
		out, err = cliVia(t, c, rest, "cluster", "unregister", "--broker", id)
		if err == nil || !strings.Contains(out, "broker "+id+" is not registered") || !strings.Contains(out, "BROKER_ID_NOT_REGISTERED") {
			t.Fatalf("unregister of broker %s, not registered: %v\n%s", id, err, out)
		}
	}
}

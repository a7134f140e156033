package cluster

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestQuorumFromFormattedVoters: three nodes formatted with
// --initial-controllers and started with controller.quorum.bootstrap.servers
// (KIP-853's way, instead of a static controller.quorum.voters) form one
// quorum with the formatted voters; a node whose directory holds no
// formatted voter set refuses to start with a message naming the fix.
func TestQuorumFromFormattedVoters(t *testing.T) {
	t.Parallel()
	bin := sluiceBinary(t)
	ports := freePorts(t, 6)
	var voters, bootstrap []string
	var nodes []*node
	c := &testCluster{t: t, bin: bin, election: electionTimeout}
	for i := range 3 {
		nd := &node{id: int32(i + 1), dir: t.TempDir(), client: ports[2*i], ctl: ports[2*i+1], cluster: c}
		nodes = append(nodes, nd)
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", nd.id, nd.ctl))
		bootstrap = append(bootstrap, fmt.Sprintf("127.0.0.1:%d", nd.ctl))
	}
	c.nodes = nodes
	id := run(t, bin, "format", "--random-cluster-id")
	start := func(nd *node) *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--node-id", fmt.Sprint(nd.id), "--log-dirs", nd.dir,
			"--listeners", fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", nd.client, nd.ctl),
			"--override", "process.roles=broker,controller",
			"--override", "controller.quorum.bootstrap.servers="+strings.Join(bootstrap, ","),
			"--override", "controller.listener.names=CONTROLLER",
			"--override", fmt.Sprintf("controller.quorum.election.timeout.ms=%d", electionTimeout.Milliseconds()))
		nd.out = &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = nd.out, nd.out
		return cmd
	}

	// Unformatted voters: a clear refusal.
	run(t, bin, "format", "--cluster-id", id, "--log-dirs", nodes[0].dir, "--node-id", "1")
	if err := start(nodes[0]).Run(); err == nil || !strings.Contains(nodes[0].out.String(), "--initial-controllers") {
		t.Fatalf("start without a formatted voter set: err %v, output:\n%s", err, nodes[0].out.String())
	}

	for _, nd := range nodes {
		run(t, bin, "format", "--cluster-id", id, "--log-dirs", nd.dir, "--node-id", fmt.Sprint(nd.id),
			"--initial-controllers", strings.Join(voters, ","))
		cmd := start(nd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		nd.cmd, nd.exited = cmd, make(chan struct{})
		go func() { cmd.Wait(); close(nd.exited) }()
	}
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.kill()
		}
		if t.Failed() {
			for _, nd := range nodes {
				t.Logf("node %d output (tail):\n%s", nd.id, tail(nd.out.String(), 3000))
			}
		}
	})
	for _, nd := range nodes {
		nd.waitListening()
	}
	lead := agreedLeader(t, nodes, -1)
	q, err := quorumOf(t, nodes[0])
	if err != nil || len(q.CurrentVoters) != 3 || q.LeaderID != lead {
		t.Fatalf("quorum %+v, %v", q, err)
	}
	if _, err := nodes[1].admin(t).CreateTopic(ctx(t), 1, 1, nil, "formatted"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the topic on every node", func() error {
		for _, nd := range nodes {
			ts, err := nd.admin(t).ListTopics(ctx(t))
			if err != nil {
				return err
			}
			if !ts.Has("formatted") {
				return fmt.Errorf("node %d lacks it", nd.id)
			}
		}
		return nil
	})
}

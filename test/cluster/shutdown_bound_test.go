package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// The controlled shutdown's bound (issue #18): a broker that cannot reach
// the active controller asks in vain until broker.session.timeout.ms, then
// closes anyway, saying so; with controlled.shutdown.enable=false it does
// not ask at all.

// closeSlack is what a close may take on top of the controlled shutdown:
// the coordinators, the listeners and every log closed and fsynced, on two
// cores shared with parallel tests.
const closeSlack = 5 * time.Second

// TestControlledShutdownGivesUp cuts a broker that is not the
// controller's node from every other node, then stops it: it leads
// partitions nobody can take over, so the shutdown cannot finish; the
// broker closes within the bound and logs that it gave up.
func TestControlledShutdownGivesUp(t *testing.T) {
	t.Parallel()
	const session = 2 * time.Second
	c := testcluster.New(t, 3, testcluster.WithProp("broker.session.timeout.ms", "2000"),
		testcluster.WithProp("auto.leader.rebalance.enable", "false"))
	ctl := c.WaitLeader().Index()
	v := (ctl + 1) % c.N()
	tcCreateAssigned(t, c, "bound", []int32{c.Node(v).ID(), c.Node((v + 1) % 3).ID(), c.Node((v + 2) % 3).ID()}, nil)
	if l := c.WaitPartitionLeader("bound", 0); l != c.Node(v).ID() {
		t.Fatalf("bound-0 led by %d, want %d", l, c.Node(v).ID())
	}
	for j := range c.N() {
		if j != v {
			c.Cut(v, j)
		}
	}
	start := time.Now()
	c.Stop(v)
	took := time.Since(start)
	logs := c.Node(v).Logs()
	if !strings.Contains(logs, "controlled shutdown did not finish") || strings.Contains(logs, "controlled shutdown complete") {
		t.Errorf("%s's log does not say its controlled shutdown gave up:\n%s", c.Node(v), logs)
	}
	if took < session || took > session+closeSlack {
		t.Errorf("the stop took %v, want the controlled-shutdown bound %v (+ at most %v to close)", took, session, closeSlack)
	}
	// The others fence it on its lease, as after a crash, and elect a new
	// leader of its partition.
	c.HealAll()
	c.WaitFenced(v)
	if l := c.WaitPartitionLeader("bound", 0); l == c.Node(v).ID() {
		t.Fatalf("bound-0 still led by the stopped %s", c.Node(v))
	}
}

// TestControlledShutdownDisabled: with controlled.shutdown.enable=false a
// stop does not ask the controller (no controlled shutdown is logged,
// none is waited for) and the broker is fenced when its lease runs out.
func TestControlledShutdownDisabled(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.WithProp("controlled.shutdown.enable", "false"))
	ctl := c.WaitLeader().Index()
	v := (ctl + 1) % c.N()
	c.Stop(v)
	if logs := c.Node(v).Logs(); strings.Contains(logs, "controlled shutdown") {
		t.Errorf("%s logged a controlled shutdown with controlled.shutdown.enable=false:\n%s", c.Node(v), logs)
	}
	c.WaitFenced(v)
}

package testcluster

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-io/sluice/internal/broker"
)

// Faults take node indexes (0-based). Each one acts at once and returns;
// what the cluster does about it is for the WaitFor helpers to observe.

// Stop closes node i's broker cleanly (logs closed and fsynced, the
// clean-shutdown marker written). A paused node is resumed first: a
// stopped process's sockets do not stall.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	c.net.resume(i)
	if err := c.nodes[i].stop(); err != nil {
		c.t.Fatalf("stop node %d: %v", c.nodes[i].id, err)
	}
}

// Crash takes node i down the way a crash looks from outside: every
// connection to or from it is reset at once and new ones are refused,
// then its broker is closed with no chance to talk to anyone, and the
// clean-shutdown marker is removed, so the next start recovers its logs
// as after a crash. In process this cannot lose what the broker had
// written but not fsynced, nor tear a write: SIGKILL and torn files are
// the process fixture's (test/cluster/fixture_test.go) and the log
// package's tests.
func (c *Cluster) Crash(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	c.net.resume(i)
	c.net.setDown(i, true)
	// The close's own error is the crash's business, not the test's. No
	// controlled shutdown: a crashed process hands nothing over.
	_ = nd.stopWith(false)
	if err := removeCleanShutdownMarker(nd.dir); err != nil {
		c.t.Fatalf("crash node %d: %v", nd.id, err)
	}
}

// Restart stops node i cleanly if it runs, then starts it again on the
// same ports and data directory (after a Crash: with log recovery). Cuts
// involving it stay as they are. It blocks, as `sluice serve` does, until
// the node has joined the metadata quorum (so a node cut from a majority
// of the voters must be healed first: its start would wait for ever), then
// until it has registered and (within twice the session timeout) been
// unfenced; a node that cannot reach the active controller starts fenced.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if err := c.RestartErr(i); err != nil {
		c.t.Fatalf("restart node %d: %v", c.nodes[i].id, err)
	}
}

// RestartErr is Restart returning the start's error instead of failing
// the test: for nodes expected to refuse to start.
func (c *Cluster) RestartErr(i int) error {
	c.t.Helper()
	c.Stop(i)
	c.net.setDown(i, false)
	return c.nodes[i].start()
}

// Pause freezes node i's traffic as a long GC pause or SIGSTOP looks
// from outside: its connections (raft, inter-broker, clients) stay open
// but no byte crosses them in either direction, and new connections to
// or from it open and then stall. Its goroutines keep running (raft
// ticks, heartbeat timers): only the network is frozen. Raft messages
// wait in the transport's queue (dropped when it is full, as raft
// allows).
func (c *Cluster) Pause(i int) { c.net.pause(i) }

// Resume lets node i's connections move again.
func (c *Cluster) Resume(i int) { c.net.resume(i) }

// Paused reports whether node i is paused.
func (c *Cluster) Paused(i int) bool { return c.net.isPaused(i) }

// Cut breaks the link between nodes i and j in both directions: their
// open connections (raft, inter-broker) are closed and new ones refused,
// until Heal(i, j) or HealAll.
func (c *Cluster) Cut(i, j int) {
	c.t.Helper()
	if i == j {
		c.t.Fatalf("testcluster: Cut(%d, %d): a node is never cut from itself", i, j)
	}
	c.net.setCut(i, j, true)
}

// Heal restores the link between i and j.
func (c *Cluster) Heal(i, j int) { c.net.setCut(i, j, false) }

// Isolate cuts node i from every other node and from every client (the
// fixture's own probe included: Metadata cannot be asked of it).
func (c *Cluster) Isolate(i int) {
	for j := range c.nodes {
		if j != i {
			c.net.setCut(i, j, true)
		}
	}
	c.net.setClientsCut(i, true)
}

// HealAll restores every link and every node's reachability from
// clients. Pauses stay: Resume lifts those.
func (c *Cluster) HealAll() { c.net.healAll() }

// reachable reports whether the fixture can ask node i: running, not
// paused, not cut from clients, not down.
func (c *Cluster) reachable(i int) bool {
	if !c.nodes[i].Running() {
		return false
	}
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	return c.net.paused[i] == nil && !c.net.blocked(client, i)
}

func (nd *Node) String() string { return fmt.Sprintf("node %d", nd.id) }

// Wipe takes node i down as a crash does (see Crash) and replaces its data
// directory (log.dirs) with an empty one formatted with the cluster's id
// and the node's id, as an operator does after replacing a lost disk.
// With metadata.log.dir elsewhere (WithNodeProp) the metadata log
// survives and Restart brings the node back with its replicas to refetch
// from their leaders; without, the node's metadata log is gone too.
func (c *Cluster) Wipe(i int) {
	c.t.Helper()
	c.Crash(i)
	nd := c.nodes[i]
	entries, err := os.ReadDir(nd.dir)
	if err != nil {
		c.t.Fatalf("wipe node %d: %v", nd.id, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(nd.dir, e.Name())); err != nil {
			c.t.Fatalf("wipe node %d: %v", nd.id, err)
		}
	}
	if _, err := broker.FormatDir(nd.dir, c.clusterID, nd.id); err != nil {
		c.t.Fatalf("wipe node %d: format: %v", nd.id, err)
	}
}

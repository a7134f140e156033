// Package testcluster runs a Sluice cluster inside a test: N combined
// (broker, controller) nodes in this process on 127.0.0.1, formatted as
// `sluice format` does (meta.properties with one cluster id, the static
// voter set controller.quorum.voters), each in its own t.TempDir(), with
// timeouts small enough for a fault test to take seconds (election 300
// ms, heartbeat 100 ms, session 1 s; see the constants). It is the
// fixture fault-schedule tests are written on; everything it starts is
// stopped by t.Cleanup.
//
//	c := testcluster.New(t, 3)                       // returns once every broker is unfenced
//	adm := c.Admin(t)                                // kadm, seeded with every node
//	cl := c.Client(t, kgo.SeedBrokers(c.Node(0).Addr()))
//	old := c.WaitLeader()                            // the active controller
//	c.Isolate(old.Index())
//	c.WaitNewLeader(old.Index())
//	c.WaitFenced(old.Index())
//	c.HealAll()
//	c.WaitUnfenced(old.Index())
//
// # The network
//
// Every connection in the cluster is dialed through the fixture's
// network (network.go): brokers through broker.Options.Dial (the
// inter-broker clients and the raft TCP transport, stream and forwarded
// metadata changes), clients through kgo.Dialer (Client, Admin, Dialer),
// the fixture's own kmsg probe likewise. A dialer knows its source node
// (or "a client"); the destination is found by listener address. The
// dialing end of each connection is wrapped, and since both directions
// of a TCP connection pass through it, faults act there:
//
//   - Cut(i, j): the open connections between i and j are closed (the
//     peer reads EOF), new ones refused with ECONNREFUSED, both ways, until
//     Heal(i, j) or HealAll. Raft, forwarding and inter-broker requests all
//     fail over that link; clients are untouched.
//   - Isolate(i): Cut from every node, and from every client (the probe
//     included).
//   - Pause(i): reads and writes of every connection to or from i block
//     (until Resume, Close or the connection's deadline), so no byte
//     crosses in either direction while the sockets stay open, as a
//     SIGSTOPped or long-GC-paused process looks from outside. New
//     connections open (the kernel accepts for a stopped process) and
//     stall. Bytes that reach a read already blocked in the kernel are
//     held until Resume. The node's goroutines keep running: only its
//     network is frozen. Raft messages wait in the transport's queue or
//     are dropped when it is full (raft resends).
//   - Crash(i): every connection to or from i reset at once, new ones
//     refused, then the broker closed with no one to talk to and its
//     clean-shutdown marker removed, so Restart recovers its logs as after
//     a crash. In process nothing written is lost and no write is torn:
//     crashes that lose unsynced data are the process fixture's
//     (test/cluster/fixture_test.go, SIGKILL).
//   - Stop(i) is a clean close, Restart(i) a start on the same ports and
//     directories (stopping first if it runs).
//
// Accepted connections are not wrapped, and nothing in a broker dials
// except through the seam (checked by the shutdown: a connection still
// open once every node and client closed fails the test). A broker dials
// itself only through the wrapped path too, and a node is never cut from
// itself. Where a dialer cannot be injected (a librdkafka client, kcat)
// the network does not reach: such a client sees Stop/Crash/Restart but
// not Cut/Isolate/Pause; a TCP proxy per node would be the way, not built.
//
// # Waiting
//
// Faults act at once and return; the WaitFor helpers poll a condition
// every 20 ms with a deadline (WaitTimeout) and fail the test with the
// condition's last error: WaitLeader, WaitNewLeader, WaitFenced,
// WaitUnfenced (from the Metadata answers of every other reachable node),
// WaitPartitionLeader, and WaitFor for anything else. Leader reads the
// nodes' own quorum status (the ready leader of the highest term).
//
// # One process, several brokers
//
// Prometheus collectors are package globals of internal/metrics (one
// registry): the brokers of a test cluster, and of every cluster of the
// test binary, add to the same counters, so a test may only assert that
// a counter grew; gauges a broker computes from its own state (served on
// its own metrics.listener) are its own. No broker serves metrics.listener unless a test sets it
// (one port each). The rest of a broker's state is its own; the package's
// tests run under -race with several clusters in parallel.
//
// Node indexes are 0-based; node i has node.id i+1. Ports are reserved
// when the cluster is created and kept for its life.
package testcluster

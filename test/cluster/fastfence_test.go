package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestDeadBrokerFencedBeforeItsSession: a broker whose process dies (its
// connections reset, as SIGKILL makes its kernel do) is fenced about two
// heartbeat intervals after its last heartbeat, well before
// broker.session.timeout.ms (20 s here), and its partitions get a new
// leader; one whose connections stay open but silent (a paused process)
// is not fenced that way.
func TestDeadBrokerFencedBeforeItsSession(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.WithProp("broker.session.timeout.ms", "20000"))
	ctl := c.WaitLeader()
	victim, paused := -1, -1
	for i := range c.N() {
		switch {
		case c.Node(i) == ctl:
		case victim < 0:
			victim = i
		default:
			paused = i
		}
	}

	// A silent but open connection: no early fence. Held for several
	// grace periods (2 x 100 ms heartbeats), far below the session.
	c.Pause(paused)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(ctl.Logs(), "heartbeat connection closed") {
			t.Fatalf("a paused broker was fenced for a closed connection:\n%s", ctl.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.Resume(paused)

	c.Crash(victim)
	c.WaitForWithin(10*time.Second, "the crashed broker fenced well before its 20 s session", func() error {
		return c.FencedErr(victim)
	})
	if !strings.Contains(ctl.Logs(), "broker fenced: its heartbeat connection closed") {
		t.Fatalf("fenced, but not for its closed connection:\n%s", ctl.Logs())
	}
}

// TestDeadControllerFencedBeforeItsSession: when the node that is both
// the active controller and a broker dies, the new controller (elected
// after the quorum's election timeout) gives that node's broker only the
// link grace, not a fresh session: it is fenced well before
// broker.session.timeout.ms (20 s here).
func TestDeadControllerFencedBeforeItsSession(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.WithProp("broker.session.timeout.ms", "20000"))
	old := c.WaitLeader()
	// Every node has seen old lead (the new controller remembers it).
	c.Crash(old.Index())
	ctl := c.WaitNewLeader(old.Index())
	c.WaitForWithin(10*time.Second, "the crashed controller's broker fenced well before its 20 s session", func() error {
		return c.FencedErr(old.Index())
	})
	if !strings.Contains(ctl.Logs(), "broker fenced: it was on the previous quorum leader") {
		t.Fatalf("fenced, but not as the previous leader's broker:\n%s", ctl.Logs())
	}
}

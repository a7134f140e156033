package controller

import (
	"testing"
	"time"
)

// TestClosedLinkFencesBeforeTheSession: a broker whose heartbeat
// connection closed is fenced two heartbeat intervals after its last
// heartbeat, not after the session timeout; one whose connection closed
// and that heartbeats again on a new one within the grace is not; one
// whose connection stays open (a paused process) waits the session out.
func TestClosedLinkFencesBeforeTheSession(t *testing.T) {
	e, clk := lifecycleEnv(t)
	grace := e.c.linkGrace()
	if grace >= session {
		t.Fatalf("grace %s not below the session timeout %s", grace, session)
	}
	epochs := map[int32]int64{}
	links := map[int32]chan struct{}{}
	beat := func(id int32) {
		t.Helper()
		if links[id] == nil {
			links[id] = make(chan struct{})
		}
		if _, err := e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: id, BrokerEpoch: epochs[id],
			CurrentMetadataOffset: e.store.Image().Offset, Link: links[id]}); err != nil {
			t.Fatalf("heartbeat %d: %v", id, err)
		}
	}
	for id := int32(1); id <= 3; id++ {
		epochs[id] = e.registerLive(id)
		beat(id)
	}
	fenced := func(id int32) bool { return e.store.Image().Brokers[id].Fenced }

	// 1 dies: its connection closes. 2's drops and it reconnects. 3's
	// stays open with nothing on it.
	close(links[1])
	close(links[2])
	links[2] = nil
	clk.Advance(grace / 2)
	beat(2) // on a new connection
	e.c.fenceExpired()
	if fenced(1) || fenced(2) || fenced(3) {
		t.Fatal("fenced within the grace")
	}
	clk.Advance(grace/2 + time.Millisecond)
	e.c.fenceExpired()
	if !fenced(1) {
		t.Fatal("broker 1 not fenced a grace after its connection closed")
	}
	if fenced(2) || fenced(3) {
		t.Fatal("broker 2 (reconnected) or 3 (connection open) fenced")
	}
	beat(2)
	clk.Advance(session - grace - 2*time.Millisecond) // 3's last heartbeat: a session ago less 1 ms
	beat(2)
	e.c.fenceExpired()
	if fenced(3) {
		t.Fatal("broker 3 fenced before its session timeout")
	}
	clk.Advance(2 * time.Millisecond)
	e.c.fenceExpired()
	if !fenced(3) || fenced(2) {
		t.Fatalf("after the session timeout: 3 fenced %v, 2 fenced %v", fenced(3), fenced(2))
	}
}

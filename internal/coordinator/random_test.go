package coordinator

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkInvariants verifies, on the loop, what doc.go promises of every
// group.
func checkInvariants(s *shard) error {
	for id, g := range s.groups {
		switch {
		case g.id != id:
			return fmt.Errorf("group %s filed under %s", g.id, id)
		case g.state == stateDead:
			return fmt.Errorf("%s: Dead group still in the map", id)
		case (g.leader == "") != (len(g.members) == 0):
			return fmt.Errorf("%s: leader %q with %d members", id, g.leader, len(g.members))
		case g.leader != "" && g.members[g.leader] == nil:
			return fmt.Errorf("%s: leader %s is not a member", id, g.leader)
		case len(g.order) != len(g.members):
			return fmt.Errorf("%s: order %v for %d members", id, g.order, len(g.members))
		case g.state == stateEmpty && len(g.members) > 0:
			return fmt.Errorf("%s: Empty with members", id)
		case g.is(stateCompletingRebalance, stateStable) && g.protocolName == "":
			return fmt.Errorf("%s: %s without a protocol", id, g.state)
		}
		for inst, mid := range g.static {
			if m := g.members[mid]; m == nil || m.instanceID == nil || *m.instanceID != inst {
				return fmt.Errorf("%s: static %s -> %s is not that member", id, inst, mid)
			}
		}
		for mid, m := range g.members {
			if m.id != mid {
				return fmt.Errorf("%s: member %s filed under %s", id, m.id, mid)
			}
			if m.instanceID != nil && g.static[*m.instanceID] != mid {
				return fmt.Errorf("%s: member %s lost its instance mapping", id, mid)
			}
			if m.sync != nil && g.state != stateCompletingRebalance {
				return fmt.Errorf("%s: sync parked in %s", id, g.state)
			}
		}
	}
	return nil
}

// TestRandomOperations drives groups with random requests from a few
// clients, with time moving on, and checks the invariants after each step.
// Every request must be answered once the clock has run far enough.
func TestRandomOperations(t *testing.T) {
	for seed := range uint64(randomSeeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomRun(t, seed) })
	}
}

func randomRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	h := newHarness(t)
	if _, err := h.c.Ready(); err != nil {
		t.Fatal(err)
	}
	type client struct {
		member   string
		gen      int32
		instance *string
	}
	clients := make([]*client, 5)
	for i := range clients {
		clients[i] = &client{}
		if i%2 == 0 {
			inst := fmt.Sprintf("i%d", i)
			clients[i].instance = &inst
		}
	}
	var pendingJoins []<-chan *kmsg.JoinGroupResponse
	var pendingSyncs []<-chan *kmsg.SyncGroupResponse
	for step := range 300 {
		c := clients[rng.IntN(len(clients))]
		switch rng.IntN(10) {
		case 0, 1:
			r := kmsg.NewPtrJoinGroupRequest()
			r.Version = int16(3 + rng.IntN(7))
			r.Group, r.MemberID, r.ProtocolType = "g", c.member, "consumer"
			if r.Version >= 5 {
				r.InstanceID = c.instance
			}
			r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = 10000, 20000
			names := [][]string{{"range"}, {"range", "sticky"}, {"sticky", "range"}}[rng.IntN(3)]
			for _, n := range names {
				r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: n, Metadata: []byte(n)})
			}
			ch := h.c.JoinGroup(r, Client{ID: "c"})
			cl := c
			pendingJoins = append(pendingJoins, ch)
			h.settle()
			if len(ch) == 1 {
				j := <-ch
				pendingJoins = pendingJoins[:len(pendingJoins)-1]
				if j.MemberID != "" {
					cl.member = j.MemberID
				}
				if j.ErrorCode == 0 {
					cl.gen = j.Generation
				}
			}
		case 2:
			assign := map[string][]byte{}
			for _, o := range clients {
				if o.member != "" {
					assign[o.member] = []byte(o.member)
				}
			}
			pendingSyncs = append(pendingSyncs, h.sync("g", c.member, c.gen, assign))
		case 3:
			h.heartbeat("g", c.member, c.gen, c.instance)
		case 4:
			if rng.IntN(4) == 0 {
				h.leave("g", c.member)
				c.member, c.gen = "", 0
			}
		case 5:
			h.commit("g", c.member, c.gen, commitPart{"t", int32(rng.IntN(4)), int64(step), "m"})
		case 6, 7:
			h.advance(time.Duration(rng.IntN(4000)) * time.Millisecond)
		case 8:
			h.describe("g")
			h.list()
			h.deleteGroups("g")
		case 9:
			if rng.IntN(5) == 0 {
				h.quiesce()
				before := h.fetchAll("g")
				h.restart() // parked requests are answered by Close
				after := h.fetchAll("g")
				if len(before) != len(after) {
					t.Fatalf("step %d: %d offsets before restart, %d after", step, len(before), len(after))
				}
				for k, b := range before {
					if a := after[k]; a.Offset != b.Offset || *a.Metadata != *b.Metadata {
						t.Fatalf("step %d: %v: %+v before restart, %+v after", step, k, b, a)
					}
				}
			}
		}
		s, _ := h.c.route("g", false)
		err := recv(t, call(s, func(int16) error { return nil }, func(reply func(error)) { reply(checkInvariants(s)) }))
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
	// Everything parked is answered once time runs past every timeout.
	for range 20 {
		h.advance(10 * time.Second)
	}
	for _, ch := range pendingJoins {
		recv(t, ch)
	}
	for _, ch := range pendingSyncs {
		recv(t, ch)
	}
}

// randomSeeds is small for the regular run; raise it when hunting.
var randomSeeds = 20

// quiesce waits until no shard has a write waiting for its fsync.
func (h *harness) quiesce() {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, s := range h.c.allShards() {
		for {
			n := recv(h.t, call(s, func(int16) int { return 0 }, func(reply func(int)) { reply(len(s.inflight)) }))
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				h.t.Fatal("writes never became durable")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

package main

import (
	"slices"
	"strings"
	"testing"
)

// roundRobin is n partitions of rf replicas over brokers 1..b, the
// first replica rotating.
func roundRobin(n, rf, b int) []planPartition {
	var out []planPartition
	for p := range n {
		var r []int32
		for j := range rf {
			r = append(r, int32((p+j)%b+1))
		}
		out = append(out, planPartition{Topic: "t", Partition: int32(p), Replicas: r})
	}
	return out
}

func brokersOf(racks ...string) []planBroker {
	var out []planBroker
	for i, r := range racks {
		out = append(out, planBroker{ID: int32(i + 1), Rack: r})
	}
	return out
}

// apply returns parts with the moves applied, checking each move keeps
// the replication factor and names distinct brokers.
func applyPlan(t *testing.T, parts []planPartition, moves []planMove) []planPartition {
	t.Helper()
	out := clonePlan(parts)
	for _, m := range moves {
		i := slices.IndexFunc(out, func(p planPartition) bool { return p.Topic == m.Topic && p.Partition == m.Partition })
		if i < 0 || len(m.Replicas) != len(out[i].Replicas) || len(m.LogDirs) != len(m.Replicas) {
			t.Fatalf("move %+v of %+v", m, out)
		}
		seen := map[int32]bool{}
		for _, r := range m.Replicas {
			if seen[r] {
				t.Fatalf("move %+v repeats broker %d", m, r)
			}
			seen[r] = true
		}
		out[i].Replicas = m.Replicas
	}
	return out
}

func planCounts(parts []planPartition) (replicas, leaders map[int32]int) {
	replicas, leaders = map[int32]int{}, map[int32]int{}
	for _, p := range parts {
		for i, r := range p.Replicas {
			replicas[r]++
			if i == 0 {
				leaders[r]++
			}
		}
	}
	return
}

func TestPlanAddBrokerBalances(t *testing.T) {
	parts := roundRobin(12, 3, 3) // 36 replicas, 12 on each of 3 brokers
	moves, err := planAddBroker(parts, brokersOf("", "", "", ""), 4)
	if err != nil {
		t.Fatal(err)
	}
	rep, lead := planCounts(applyPlan(t, parts, moves))
	for b := int32(1); b <= 4; b++ {
		if rep[b] != 9 {
			t.Errorf("broker %d holds %d replicas, want 9 (%v)", b, rep[b], rep)
		}
	}
	if lead[4] != 3 {
		t.Errorf("broker 4 is the preferred leader of %d partitions, want 3 (%v)", lead[4], lead)
	}
	if len(moves) != 9 {
		t.Errorf("%d partitions moved, want 9 (one replica each)", len(moves))
	}
	if _, err := planAddBroker(parts, brokersOf("", "", ""), 4); err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Errorf("adding an unregistered broker: %v", err)
	}
}

// A new broker on rack a never joins a partition that already has a
// replica on rack a, unless it replaces that replica.
func TestPlanAddBrokerKeepsRacksDistinct(t *testing.T) {
	parts := roundRobin(6, 2, 3)
	brokers := brokersOf("a", "b", "c", "a")
	moves, err := planAddBroker(parts, brokers, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(moves) == 0 {
		t.Fatal("nothing moved")
	}
	for _, p := range applyPlan(t, parts, moves) {
		racks := map[string]bool{}
		for _, r := range p.Replicas {
			rack := brokers[r-1].Rack
			if racks[rack] {
				t.Errorf("%s-%d replicas %v share rack %s", p.Topic, p.Partition, p.Replicas, rack)
			}
			racks[rack] = true
		}
	}
}

func TestPlanDecommission(t *testing.T) {
	parts := roundRobin(8, 3, 4)
	moves, err := planDecommission(parts, brokersOf("", "", "", ""), 2)
	if err != nil {
		t.Fatal(err)
	}
	after := applyPlan(t, parts, moves)
	rep, lead := planCounts(after)
	if rep[2] != 0 || lead[2] != 0 {
		t.Fatalf("broker 2 still holds %d replicas", rep[2])
	}
	for _, b := range []int32{1, 3, 4} {
		if rep[b] != 8 {
			t.Errorf("broker %d holds %d replicas, want 8 (%v)", b, rep[b], rep)
		}
	}
	for b, n := range lead {
		if n < 2 || n > 3 {
			t.Errorf("broker %d preferred leader of %d partitions (%v)", b, n, lead)
		}
	}
	// Three brokers cannot hold RF 3 without the fourth.
	_, err = planDecommission(roundRobin(3, 3, 3), brokersOf("", "", ""), 3)
	if err == nil || !strings.Contains(err.Error(), "cannot decommission broker 3") || !strings.Contains(err.Error(), "t-0 (replicas [1 2 3])") {
		t.Fatalf("decommission below the replication factor: %v", err)
	}
}

package controller

import (
	"slices"
	"testing"
)

// TestPlaceSpreads: every partition gets rf distinct brokers, leaders
// (first replicas) are spread evenly, and the start is not always the
// lowest broker.
func TestPlaceSpreads(t *testing.T) {
	brokers := []int32{1, 2, 3}
	for start := range 3 {
		rnd := func(k int) int { return start % k }
		out := place(brokers, nil, 0, 6, 2, rnd)
		leaders := map[int32]int{}
		for _, r := range out {
			if len(r) != 2 || r[0] == r[1] {
				t.Fatalf("start %d: replicas %v", start, r)
			}
			leaders[r[0]]++
		}
		for _, b := range brokers {
			if leaders[b] != 2 {
				t.Fatalf("start %d: leaders %v", start, leaders)
			}
		}
	}
	// Over random starts, partition 0 of single-partition topics lands on
	// every broker, not always the lowest id.
	first := map[int32]bool{}
	for range 200 {
		first[autoPlaceWith(brokers)[0][0]] = true
	}
	if len(first) != 3 {
		t.Fatalf("partition 0 leaders over 200 topics: %v", first)
	}
}

func autoPlaceWith(brokers []int32) [][]int32 {
	return place(brokers, nil, 0, 1, 1, randIntN)
}

// TestPlaceRackAware: with two racks, each partition's replicas sit on
// both racks; with three racks and rf 3, on all three.
func TestPlaceRackAware(t *testing.T) {
	racks := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}
	brokers := []int32{1, 2, 3, 4, 5, 6}
	for seed := range 6 {
		rnd := func(k int) int { return seed % k }
		for _, rf := range []int32{2, 3} {
			for _, r := range place(brokers, racks, 0, 12, rf, rnd) {
				seen := map[string]bool{}
				for _, b := range r {
					seen[racks[b]] = true
				}
				if len(seen) != int(rf) || len(r) != int(rf) {
					t.Fatalf("seed %d rf %d: replicas %v on racks %v", seed, rf, r, seen)
				}
			}
		}
	}
	if got := rackAlternated(brokers, racks); !slices.Equal(got, []int32{1, 3, 5, 2, 4, 6}) {
		t.Fatalf("rack-alternated order %v", got)
	}

}

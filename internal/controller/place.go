package controller

import (
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metadata"
)

// autoPlace assigns rf replicas to each of partitions first..first+n-1
// the way Kafka's replica assignment does: over the brokers that can take
// replicas (registered, unfenced, not shutting down), from a random start and a random
// shift for the later replicas, so that partition 0 of every topic does
// not land on the same broker and leaders spread evenly. With racks
// (broker.rack) the brokers are taken alternating by rack and a partition's
// replicas go to distinct racks while a rack remains unused.
func autoPlace(im *metadata.Image, first, n, rf int32) ([][]int32, *Error) {
	brokers := placeable(im)
	if int(rf) > len(brokers) {
		return nil, errorf(kerr.InvalidReplicationFactor,
			"Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.",
			rf, rf, len(brokers))
	}
	return place(brokers, rackOf(im), first, n, rf, randIntN), nil
}

// placeable lists the brokers new replicas may go to, sorted by id:
// registered, unfenced and not shutting down (Kafka's usable brokers).
func placeable(im *metadata.Image) []int32 {
	return im.UsableBrokerIDs()
}

func rackOf(im *metadata.Image) map[int32]string {
	racks := map[int32]string{}
	for id, b := range im.Brokers {
		if b.Rack != nil {
			racks[id] = *b.Rack
		}
	}
	return racks
}

// place is the assignment itself; rnd(k) returns a number in [0, k) (the
// random start and shift; tests pass a fixed one).
func place(brokers []int32, racks map[int32]string, first, n, rf int32, rnd func(int) int) [][]int32 {
	list := rackAlternated(brokers, racks)
	nb := len(list)
	start, shift := rnd(nb), 0
	if nb > 1 {
		shift = rnd(nb - 1)
	}
	out := make([][]int32, n)
	for i := range out {
		p := int(first) + i
		if p > 0 && p%nb == 0 {
			shift++
		}
		firstIdx := (p + start) % nb
		replicas := []int32{list[firstIdx]}
		usedRacks := map[string]bool{racks[list[firstIdx]]: true}
		for j := 0; len(replicas) < int(rf); j++ {
			// Kafka's shifted walk over the other brokers; j runs past
			// rf-1 only to skip brokers already chosen or, while an
			// unused rack remains, on a used rack.
			idx := (firstIdx + 1 + (shift+j)%max(nb-1, 1)) % nb
			b := list[idx]
			if slices.Contains(replicas, b) {
				if j > 2*nb {
					break // cannot happen with rf <= nb; a guard, not a path
				}
				continue
			}
			if len(racks) > 0 && usedRacks[racks[b]] && len(usedRacks) < distinctRacks(list, racks) && j < 2*nb {
				continue
			}
			replicas = append(replicas, b)
			usedRacks[racks[b]] = true
		}
		out[i] = replicas
	}
	return out
}

// rackAlternated orders brokers so consecutive ones sit on different racks
// when they can (Kafka's rack-alternated broker list): racks in name
// order, each rack's brokers by id, taken one from each rack in turn.
// Without racks it is the id order.
func rackAlternated(brokers []int32, racks map[int32]string) []int32 {
	if len(racks) == 0 {
		return slices.Clone(brokers)
	}
	byRack := map[string][]int32{}
	for _, b := range brokers {
		byRack[racks[b]] = append(byRack[racks[b]], b)
	}
	names := slices.Sorted(maps.Keys(byRack))
	var out []int32
	for i := 0; len(out) < len(brokers); i++ {
		for _, r := range names {
			if i < len(byRack[r]) {
				out = append(out, byRack[r][i])
			}
		}
	}
	return out
}

func distinctRacks(brokers []int32, racks map[int32]string) int {
	seen := map[string]bool{}
	for _, b := range brokers {
		seen[racks[b]] = true
	}
	return len(seen)
}

var randIntN = rand.IntN

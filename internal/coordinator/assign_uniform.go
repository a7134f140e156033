package coordinator

import (
	"maps"
	"slices"
)

// assignUniform is the uniform assignor: balanced and sticky. Every member
// keeps the partitions of its previous target it is still subscribed to,
// up to its share; the remaining partitions go, one at a time, to the
// least loaded subscribed member; then partitions move from the most to
// the least loaded member that may take them until no move brings two
// members closer. With identical subscriptions the counts differ by at
// most one.
func assignUniform(s assignSpec) map[string]parts {
	out := map[string]parts{}
	load := map[string]int{}
	subscribed := map[string]map[uuid]bool{}
	for _, m := range s.members {
		out[m.id] = parts{}
		subscribed[m.id] = map[uuid]bool{}
		for _, t := range m.topics {
			if ti, ok := s.topics[t]; ok {
				subscribed[m.id][ti.ID] = true
			}
		}
	}
	subs := s.subscribers()
	var all []tpid
	eligible := map[uuid][]string{}
	for _, t := range sortedTopicNames(subs) {
		ti := s.topics[t]
		eligible[ti.ID] = subs[t]
		for p := int32(0); p < ti.Partitions; p++ {
			all = append(all, tpid{ti.ID, p})
		}
	}
	if len(all) == 0 {
		return out
	}
	// Share: with identical subscriptions, ceil(partitions / members).
	share := (len(all) + len(s.members) - 1) / len(s.members)
	taken := map[tpid]bool{}
	// 1. Stickiness.
	for _, m := range s.members {
		prev := s.prev[m.id]
		prev.each(func(t tpid) {
			if !subscribed[m.id][t.id] || taken[t] || load[m.id] >= share {
				return
			}
			if !validPartition(s, t) {
				return
			}
			out[m.id].add(t.id, t.p)
			taken[t] = true
			load[m.id]++
		})
	}
	// 2. The rest to the least loaded eligible member.
	for _, t := range all {
		if taken[t] {
			continue
		}
		best := ""
		for _, id := range eligible[t.id] {
			if best == "" || load[id] < load[best] {
				best = id
			}
		}
		out[best].add(t.id, t.p)
		taken[t] = true
		load[best]++
	}
	// 3. Balance: move from the most loaded member to a less loaded one
	// subscribed to the partition's topic while that narrows the gap.
	ids := slices.Sorted(maps.Keys(out))
	for range len(all) * 2 {
		moved := false
		slices.SortStableFunc(ids, func(a, b string) int { return load[b] - load[a] })
		for _, from := range ids {
			for _, to := range slices.Backward(ids) {
				if load[from]-load[to] <= 1 {
					continue
				}
				var pick *tpid
				out[from].each(func(t tpid) {
					if pick == nil && subscribed[to][t.id] {
						tt := t
						pick = &tt
					}
				})
				if pick == nil {
					continue
				}
				removePart(out[from], *pick)
				out[to].add(pick.id, pick.p)
				load[from]--
				load[to]++
				moved = true
				break
			}
			if moved {
				break
			}
		}
		if !moved {
			break
		}
	}
	return out
}

func validPartition(s assignSpec, t tpid) bool {
	for _, ti := range s.topics {
		if ti.ID == t.id {
			return t.p >= 0 && t.p < ti.Partitions
		}
	}
	return false
}

func removePart(a parts, t tpid) {
	ps := a[t.id]
	if i, ok := slices.BinarySearch(ps, t.p); ok {
		ps = slices.Delete(ps, i, i+1)
	}
	if len(ps) == 0 {
		delete(a, t.id)
	} else {
		a[t.id] = ps
	}
}

package coordinator

// assignRange is the range assignor: for each topic, the members
// subscribed to it (sorted by member id) get consecutive ranges of its
// partitions, the first (partitions % members) one more. Members with the
// same subscription get the same partition numbers of co-partitioned
// topics.
func assignRange(s assignSpec) map[string]parts {
	out := map[string]parts{}
	for _, m := range s.members {
		out[m.id] = parts{}
	}
	subs := s.subscribers()
	for _, t := range sortedTopicNames(subs) {
		ti := s.topics[t]
		ms := subs[t]
		n := int(ti.Partitions)
		per, extra := n/len(ms), n%len(ms)
		p := 0
		for i, id := range ms {
			k := per
			if i < extra {
				k++
			}
			for j := 0; j < k; j++ {
				out[id].add(ti.ID, int32(p))
				p++
			}
		}
	}
	return out
}

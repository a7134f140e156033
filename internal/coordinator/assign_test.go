package coordinator

import (
	"fmt"
	"testing"
)

func specFor(members map[string][]string, topics map[string]int32, prev map[string]parts) assignSpec {
	s := assignSpec{topics: map[string]TopicInfo{}, prev: prev}
	for n, p := range topics {
		s.topics[n] = TopicInfo{Name: n, ID: topicID(n), Partitions: p}
	}
	for _, id := range sortedKeys(members) {
		s.members = append(s.members, assignMember{id: id, topics: members[id]})
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// checkComplete: every partition of every subscribed topic goes to exactly
// one member subscribed to it.
func checkComplete(t *testing.T, s assignSpec, out map[string]parts) {
	t.Helper()
	owner := map[tpid]string{}
	for id, a := range out {
		a.each(func(tp tpid) {
			if o, dup := owner[tp]; dup {
				t.Errorf("partition %v given to %s and %s", tp, o, id)
			}
			owner[tp] = id
		})
	}
	subs := s.subscribers()
	for n, ms := range subs {
		ti := s.topics[n]
		for p := int32(0); p < ti.Partitions; p++ {
			o, ok := owner[tpid{ti.ID, p}]
			if !ok {
				t.Errorf("%s/%d unassigned", n, p)
				continue
			}
			found := false
			for _, m := range ms {
				found = found || m == o
			}
			if !found {
				t.Errorf("%s/%d given to %s, not subscribed", n, p, o)
			}
		}
	}
}

func TestUniformBalancedAndSticky(t *testing.T) {
	members := map[string][]string{}
	for i := range 3 {
		members[fmt.Sprintf("m%d", i)] = []string{"a", "b"}
	}
	topics := map[string]int32{"a": 7, "b": 5}
	s := specFor(members, topics, nil)
	out := assignUniform(s)
	checkComplete(t, s, out)
	for id, a := range out {
		if n := a.count(); n < 4 || n > 4 {
			t.Errorf("%s has %d partitions, want 4 (12 over 3)", id, n)
		}
	}
	// A fourth member: the others keep what they can, nobody has more than
	// one partition above another.
	members["m3"] = []string{"a", "b"}
	s2 := specFor(members, topics, out)
	out2 := assignUniform(s2)
	checkComplete(t, s2, out2)
	moved := 0
	for id := range out {
		out[id].each(func(tp tpid) {
			if !out2[id].has(tp.id, tp.p) {
				moved++
			}
		})
	}
	if moved != 3 {
		t.Errorf("%d partitions moved adding a member to 12 over 3, want 3", moved)
	}
	for id, a := range out2 {
		if n := a.count(); n != 3 {
			t.Errorf("%s has %d partitions, want 3", id, n)
		}
	}
}

func TestUniformHeterogeneous(t *testing.T) {
	members := map[string][]string{"x": {"a"}, "y": {"a", "b"}, "z": {"b"}}
	s := specFor(members, map[string]int32{"a": 4, "b": 4}, nil)
	out := assignUniform(s)
	checkComplete(t, s, out)
	for id, a := range out {
		if n := a.count(); n < 2 || n > 3 {
			t.Errorf("%s has %d partitions", id, n)
		}
	}
}

func TestRange(t *testing.T) {
	members := map[string][]string{"m1": {"a", "b"}, "m2": {"a", "b"}, "m3": {"a"}}
	s := specFor(members, map[string]int32{"a": 7, "b": 3}, nil)
	out := assignRange(s)
	checkComplete(t, s, out)
	a, b := topicID("a"), topicID("b")
	want := map[string]parts{
		"m1": {a: {0, 1, 2}, b: {0, 1}},
		"m2": {a: {3, 4}, b: {2}},
		"m3": {a: {5, 6}},
	}
	for id, w := range want {
		if !out[id].equal(w) {
			t.Errorf("%s: %v, want %v", id, out[id], w)
		}
	}
}

func TestAssignNoTopics(t *testing.T) {
	s := specFor(map[string][]string{"m": {"missing"}}, map[string]int32{}, nil)
	for name, f := range assignors {
		out := f(s)
		if out["m"].count() != 0 {
			t.Errorf("%s assigned %v for a missing topic", name, out)
		}
	}
}

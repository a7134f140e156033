package metadata

import (
	"reflect"
	"testing"
)

// TestReassignmentFields checks AddingReplicas/RemovingReplicas (version
// 2): written only while a reassignment is ongoing, applied (nil keeps,
// empty clears) through the encoding, and kept by a snapshot.
func TestReassignmentFields(t *testing.T) {
	id := UUID{15: 3}
	if v := Encode(PartitionChangeRecord{TopicID: id, Leader: NoLeaderChange, ISR: []int32{1}})[1]; v != 0 {
		t.Fatalf("change without reassignment written as version %d", v)
	}
	start := PartitionChangeRecord{TopicID: id, Leader: NoLeaderChange, Replicas: []int32{2, 3, 1},
		AddingReplicas: []int32{2, 3}, RemovingReplicas: []int32{1}}
	done := PartitionChangeRecord{TopicID: id, Leader: 2, Replicas: []int32{2, 3}, ISR: []int32{2, 3},
		AddingReplicas: []int32{}, RemovingReplicas: []int32{}}
	im, err := Empty().Apply([]Record{TopicRecord{Name: "t", ID: id},
		PartitionRecord{TopicID: id, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range []Record{start, PartitionChangeRecord{TopicID: id, Leader: NoLeaderChange, ISR: []int32{1, 2}}, done} {
		b := Encode(rec)
		if i != 1 && b[1] != 2 {
			t.Fatalf("record %d written as version %d", i, b[1])
		}
		dec, err := Decode(b)
		if err != nil || !reflect.DeepEqual(dec, rec) {
			t.Fatalf("record %d: decoded %+v, %v; want %+v", i, dec, err, rec)
		}
		if im, err = im.Apply([]Record{dec}); err != nil {
			t.Fatal(err)
		}
		p := im.TopicsByID[id].Partitions[0]
		if i == 1 {
			if !p.Reassigning() || !reflect.DeepEqual(p.AddingReplicas, []int32{2, 3}) || !reflect.DeepEqual(p.RemovingReplicas, []int32{1}) {
				t.Fatalf("nil fields changed the reassignment: %+v", p)
			}
			snap, err := Empty().Apply(roundTrip(t, im.Records()))
			if err != nil {
				t.Fatal(err)
			}
			if got := snap.TopicsByID[id].Partitions[0]; !reflect.DeepEqual(got, p) {
				t.Fatalf("snapshot: %+v, want %+v", got, p)
			}
		}
	}
	if p := im.TopicsByID[id].Partitions[0]; p.Reassigning() || p.AddingReplicas != nil || p.RemovingReplicas != nil ||
		!reflect.DeepEqual(p.Replicas, []int32{2, 3}) || p.Leader != 2 {
		t.Fatalf("after completion: %+v", p)
	}
}

func roundTrip(t *testing.T, recs []Record) []Record {
	t.Helper()
	out, err := DecodeRecords(EncodeRecords(recs))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

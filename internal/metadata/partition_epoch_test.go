package metadata

import (
	"errors"
	"slices"
	"testing"
)

// TestPartitionChangeEpochs checks Kafka's epoch rules on
// PartitionChangeRecord: every change bumps the partition epoch, only a
// leader change bumps the leader epoch, and the leader recovery state
// changes only when the record says so.
func TestPartitionChangeEpochs(t *testing.T) {
	id := UUID{15: 9}
	im, err := Empty().Apply([]Record{TopicRecord{Name: "t", ID: id},
		PartitionRecord{TopicID: id, Partition: 0, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1, LeaderEpoch: 4, PartitionEpoch: 7}})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name          string
		rec           PartitionChangeRecord
		leader        int32
		isr           []int32
		leaderEpoch   int32
		partitionEpo  int32
		recoveryState LeaderRecoveryState
	}{
		{"isr shrink keeps the leader epoch", PartitionChangeRecord{Leader: NoLeaderChange, ISR: []int32{1, 2}}, 1, []int32{1, 2}, 4, 8, Recovered},
		{"isr expand keeps the leader epoch", PartitionChangeRecord{Leader: NoLeaderChange, ISR: []int32{1, 2, 3}}, 1, []int32{1, 2, 3}, 4, 9, Recovered},
		{"same leader is no leader change", PartitionChangeRecord{Leader: 1}, 1, []int32{1, 2, 3}, 4, 10, Recovered},
		{"leader change bumps both", PartitionChangeRecord{Leader: 2, ISR: []int32{2, 3}}, 2, []int32{2, 3}, 5, 11, Recovered},
		{"no leader bumps both", PartitionChangeRecord{Leader: NoLeader}, NoLeader, []int32{2, 3}, 6, 12, Recovered},
		{"unclean election: recovering", PartitionChangeRecord{Leader: 1, ISR: []int32{1}, LeaderRecovery: RecoveryToRecovering}, 1, []int32{1}, 7, 13, Recovering},
		{"recovered", PartitionChangeRecord{Leader: NoLeaderChange, LeaderRecovery: RecoveryToRecovered}, 1, []int32{1}, 7, 14, Recovered},
	}
	for _, s := range steps {
		s.rec.TopicID = id
		// Through the encoding, as the quorum carries it.
		dec, err := Decode(Encode(s.rec))
		if err != nil {
			t.Fatalf("%s: decode: %v", s.name, err)
		}
		if im, err = im.Apply([]Record{dec}); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		p := im.TopicsByID[id].Partitions[0]
		if p.Leader != s.leader || !slices.Equal(p.ISR, s.isr) || p.LeaderEpoch != s.leaderEpoch ||
			p.PartitionEpoch != s.partitionEpo || p.LeaderRecoveryState != s.recoveryState {
			t.Fatalf("%s: got %+v", s.name, p)
		}
	}
	// A recovering partition survives a snapshot.
	snap, err := ImageFromRecords(EncodeRecords(im.Records()))
	if err != nil {
		t.Fatal(err)
	}
	if im2, _ := snap.Apply([]Record{PartitionChangeRecord{TopicID: id, Leader: NoLeaderChange, LeaderRecovery: RecoveryToRecovering}}); im2.TopicsByID[id].Partitions[0].LeaderRecoveryState != Recovering {
		t.Fatal("recovering state lost")
	}
	if got := snap.TopicsByID[id].Partitions[0]; got.PartitionEpoch != 14 || got.LeaderEpoch != 7 {
		t.Fatalf("snapshot: %+v", got)
	}
}

// TestLeaderRecoveryEncoding checks the version 1 encodings: written only
// when needed (so older records stay byte-identical) and bad states
// refused.
func TestLeaderRecoveryEncoding(t *testing.T) {
	id := UUID{15: 1}
	if v := Encode(PartitionChangeRecord{TopicID: id, Leader: NoLeaderChange})[1]; v != 0 {
		t.Fatalf("unchanged recovery state written as version %d", v)
	}
	if v := Encode(PartitionRecord{TopicID: id, Replicas: []int32{1}})[1]; v != 0 {
		t.Fatalf("recovered partition written as version %d", v)
	}
	pr := PartitionRecord{TopicID: id, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1, LeaderRecoveryState: Recovering}
	b := Encode(pr)
	if b[1] != 1 {
		t.Fatalf("recovering partition written as version %d", b[1])
	}
	if r, err := Decode(b); err != nil || r.(PartitionRecord).LeaderRecoveryState != Recovering {
		t.Fatalf("decode: %+v %v", r, err)
	}
	b[len(b)-1] = 7
	if _, err := Decode(b); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("bad recovery state: %v", err)
	}
	c := Encode(PartitionChangeRecord{TopicID: id, Leader: NoLeaderChange, LeaderRecovery: RecoveryToRecovered})
	if c[1] != 1 || c[len(c)-1] != 0 {
		t.Fatalf("change to recovered: % x", c)
	}
	c[len(c)-1] = 0xfe // -2
	if _, err := Decode(c); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("bad recovery change: %v", err)
	}
}

package controller

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
)

// setPartition replaces the state of topic-p (a test shortcut to reach
// states no admin request produces on a single node).
func (e *env) setPartition(topic string, p int32, replicas, isr []int32, leader int32) {
	e.t.Helper()
	top, ok := e.store.Image().Topic(topic)
	if !ok {
		e.t.Fatalf("no topic %s", topic)
	}
	if err := e.store.Append(metadata.PartitionRecord{TopicID: top.ID, Partition: p, Replicas: replicas, ISR: isr, Leader: leader}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) partition(topic string, p int32) metadata.PartitionImage {
	e.t.Helper()
	top, ok := e.store.Image().Topic(topic)
	if !ok || int(p) >= len(top.Partitions) {
		e.t.Fatalf("no partition %s-%d", topic, p)
	}
	return top.Partitions[p]
}

func (e *env) createTopic(name string, partitions int32) {
	e.t.Helper()
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: name, NumPartitions: partitions, ReplicationFactor: 1}); ce != nil {
		e.t.Fatal(ce)
	}
}

// codes flattens results to "topic-partition" -> error code.
func codes(res []TopicResults) map[string]int16 {
	out := map[string]int16{}
	for _, t := range res {
		for _, p := range t.Partitions {
			var c int16
			if p.Err != nil {
				c = p.Err.Code
			}
			out[t.Topic+"-"+string(rune('0'+p.Partition))] = c
		}
	}
	return out
}

func TestElectLeaders(t *testing.T) {
	e := newEnv(t, nil, 1, 2, 3)
	e.createTopic("t", 4)
	e.setPartition("t", 0, []int32{2, 1}, []int32{1, 2}, 1) // preferred 2 in sync: elect it
	e.setPartition("t", 1, []int32{3, 1}, []int32{1}, 1)    // preferred 3 not in sync
	e.setPartition("t", 2, []int32{1}, []int32{1}, 1)       // already preferred
	e.setPartition("t", 3, []int32{9, 2}, []int32{}, metadata.NoLeader)

	before := e.partition("t", 0)
	res, top := e.c.ElectLeaders(ElectPreferred, []TopicPartitions{{Topic: "t", Partitions: []int32{0, 1, 2, 3, 7}}, {Topic: "nope", Partitions: []int32{0}}})
	wantCode(t, "top", top, nil)
	want := map[string]int16{
		"t-0": 0, "t-1": kerr.PreferredLeaderNotAvailable.Code, "t-2": kerr.ElectionNotNeeded.Code,
		"t-3": kerr.PreferredLeaderNotAvailable.Code, // 9 is not registered
		"t-7": kerr.UnknownTopicOrPartition.Code, "nope-0": kerr.UnknownTopicOrPartition.Code,
	}
	if got := codes(res); !reflect.DeepEqual(got, want) {
		t.Errorf("preferred: %v, want %v", got, want)
	}
	if p := e.partition("t", 0); p.Leader != 2 || p.LeaderEpoch != before.LeaderEpoch+1 {
		t.Errorf("t-0 after preferred election: %+v", p)
	}

	// Unclean: only the leaderless partition needs it; 9 is not
	// registered and 2 is not in sync, so 2 leads alone.
	res, top = e.c.ElectLeaders(ElectUnclean, []TopicPartitions{{Topic: "t", Partitions: []int32{2, 3}}})
	wantCode(t, "top", top, nil)
	if got := codes(res); !reflect.DeepEqual(got, map[string]int16{"t-2": kerr.ElectionNotNeeded.Code, "t-3": 0}) {
		t.Errorf("unclean: %v", got)
	}
	if p := e.partition("t", 3); p.Leader != 2 || !reflect.DeepEqual(p.ISR, []int32{2}) {
		t.Errorf("t-3 after unclean election: %+v", p)
	}

	// All partitions: those needing no election are left out.
	e.setPartition("t", 2, []int32{2, 1}, []int32{1, 2}, 1)
	res, top = e.c.ElectLeaders(ElectPreferred, nil)
	wantCode(t, "top", top, nil)
	if got := codes(res); !reflect.DeepEqual(got, map[string]int16{"t-1": kerr.PreferredLeaderNotAvailable.Code, "t-2": 0, "t-3": kerr.PreferredLeaderNotAvailable.Code}) {
		t.Errorf("all: %v", got)
	}

	off := e.store.Image().Offset
	if _, top = e.c.ElectLeaders(5, nil); top == nil || top.Code != kerr.InvalidRequest.Code {
		t.Errorf("unknown election type: %v", top)
	}
	if e.store.Image().Offset != off {
		t.Error("failed election wrote records")
	}
}

func TestAlterPartitionReassignments(t *testing.T) {
	e := newEnv(t, nil, 1, 2)
	e.createTopic("t", 3)
	// Placement starts at a random broker: pin partition 0 to broker 1.
	e.setPartition("t", 0, []int32{1}, []int32{1}, 1)
	e.setPartition("t", 1, []int32{2, 1}, []int32{2, 1}, 2)
	e.setPartition("t", 2, []int32{1, 2}, []int32{1}, 1)
	off := e.store.Image().Offset

	res := e.c.AlterPartitionReassignments([]ReassignTopic{{Topic: "t", Partitions: []ReassignPartition{
		{Partition: 0, Replicas: []int32{1}},    // unchanged
		{Partition: 0, Replicas: nil},           // cancel: nothing ongoing
		{Partition: 0, Replicas: []int32{}},     // empty
		{Partition: 0, Replicas: []int32{1, 1}}, // duplicate
		{Partition: 0, Replicas: []int32{5}},    // unregistered
		{Partition: 9, Replicas: []int32{1}},
	}}, {Topic: "nope", Partitions: []ReassignPartition{{Partition: 0, Replicas: []int32{1}}}}})
	var got []int16
	for _, tr := range res {
		for _, p := range tr.Partitions {
			var c int16
			if p.Err != nil {
				c = p.Err.Code
			}
			got = append(got, c)
		}
	}
	ira := kerr.InvalidReplicaAssignment.Code
	want := []int16{0, kerr.NoReassignmentInProgress.Code, ira, ira, ira, kerr.UnknownTopicOrPartition.Code, kerr.UnknownTopicOrPartition.Code}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("codes %v, want %v", got, want)
	}
	if e.store.Image().Offset != off {
		t.Error("no-op and failed reassignments wrote records")
	}

	// Shrinking to an in-sync subset completes at once; removing the
	// leader elects the first target replica.
	res = e.c.AlterPartitionReassignments([]ReassignTopic{{Topic: "t", Partitions: []ReassignPartition{{Partition: 1, Replicas: []int32{1}}}}})
	wantCode(t, "shrink", res[0].Partitions[0].Err, nil)
	if p := e.partition("t", 1); !reflect.DeepEqual(p.Replicas, []int32{1}) || !reflect.DeepEqual(p.ISR, []int32{1}) || p.Leader != 1 {
		t.Errorf("t-1 after reassignment: %+v", p)
	}
	if e.store.Image().Offset != off+1 {
		t.Errorf("reassignment wrote %d records", e.store.Image().Offset-off)
	}
	if l := e.c.ListPartitionReassignments(nil); len(l) != 0 {
		t.Errorf("ongoing reassignments %+v", l)
	}
}

func TestScramKeys(t *testing.T) {
	// Expected keys computed independently (Python hmac/hashlib) for the
	// salted password of RFC 7677's example.
	salted, _ := hex.DecodeString("c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d")
	for _, c := range []struct {
		mech           int8
		stored, server string
	}{
		{metadata.ScramSHA256, "586e5df283e6dceb5c3e791d8b8528ec191e664045ce971792e2e6b5bb13e2a6",
			"c1f3cbc1c13a9d35a14c0990eed97629ea225863e566a4314ab99f3f00e5d9d5"},
		{metadata.ScramSHA512, "65cc4eacc595a618209ea69ef61c58263ba42efd2d22ff955f50aecc8abc20c200867a2b1d8efe2bf0c7dbcaabab5757d40e8474b33f753e556121743ceed4ea",
			"a5acb33dd32f25da22ff602c22d639b4b7d881762113a3f7b8d41c777c54036872d41cdfa42771b095bc725fd041b27a14d88a7b5ad725891fa206dc1bde1ed7"},
	} {
		stored, server, ok := ScramKeys(c.mech, salted)
		if !ok || hex.EncodeToString(stored) != c.stored || hex.EncodeToString(server) != c.server {
			t.Errorf("mechanism %d: stored %x server %x ok %v", c.mech, stored, server, ok)
		}
	}
	if _, _, ok := ScramKeys(0, salted); ok {
		t.Error("mechanism 0 accepted")
	}
}

func TestAlterScramCredentials(t *testing.T) {
	e := newEnv(t, nil, 1)
	pw := []byte("salted-password")
	res := e.c.AlterScramCredentials(nil, []ScramUpsertion{
		{Name: "alice", Mechanism: metadata.ScramSHA256, Iterations: 4096, Salt: []byte("s1"), SaltedPassword: pw},
		{Name: "bob", Mechanism: metadata.ScramSHA512, Iterations: 16384, Salt: []byte("s2"), SaltedPassword: pw},
		{Name: "", Mechanism: metadata.ScramSHA256, Iterations: 4096},
		{Name: "few", Mechanism: metadata.ScramSHA256, Iterations: 4095},
		{Name: "many", Mechanism: metadata.ScramSHA256, Iterations: 16385},
		{Name: "mech", Mechanism: 3, Iterations: 4096},
		{Name: "twice", Mechanism: metadata.ScramSHA256, Iterations: 4096},
		{Name: "twice", Mechanism: metadata.ScramSHA512, Iterations: 4096},
	})
	got := map[string]int16{}
	for _, r := range res {
		var c int16
		if r.Err != nil {
			c = r.Err.Code
		}
		got[r.User] = c
	}
	uc := kerr.UnacceptableCredential.Code
	want := map[string]int16{"alice": 0, "bob": 0, "": uc, "few": uc, "many": uc,
		"mech": kerr.UnsupportedSaslMechanism.Code, "twice": kerr.DuplicateResource.Code}
	if !reflect.DeepEqual(got, want) || len(res) != len(want) {
		t.Errorf("upsert results %v, want %v", got, want)
	}
	im := e.store.Image()
	c, ok := im.ScramCredential("alice", metadata.ScramSHA256)
	stored, server, _ := ScramKeys(metadata.ScramSHA256, pw)
	if !ok || c.Iterations != 4096 || string(c.Salt) != "s1" || !bytes.Equal(c.StoredKey, stored) || !bytes.Equal(c.ServerKey, server) {
		t.Errorf("alice %+v", c)
	}
	if users := im.ScramUsers(); !reflect.DeepEqual(users, []string{"alice", "bob"}) {
		t.Errorf("users %v", users)
	}

	// Deletions: unknown credential, delete + upsert of one user, success.
	res = e.c.AlterScramCredentials([]ScramDeletion{
		{Name: "alice", Mechanism: metadata.ScramSHA512}, // alice has only SHA-256
		{Name: "bob", Mechanism: metadata.ScramSHA512},
		{Name: "carol", Mechanism: metadata.ScramSHA256},
	}, []ScramUpsertion{{Name: "carol", Mechanism: metadata.ScramSHA256, Iterations: 4096, SaltedPassword: pw}})
	got = map[string]int16{}
	for _, r := range res {
		var c int16
		if r.Err != nil {
			c = r.Err.Code
		}
		got[r.User] = c
	}
	if want := map[string]int16{"alice": kerr.ResourceNotFound.Code, "bob": 0, "carol": kerr.ResourceNotFound.Code}; !reflect.DeepEqual(got, want) {
		t.Errorf("delete results %v, want %v", got, want)
	}
	if users := e.store.Image().ScramUsers(); !reflect.DeepEqual(users, []string{"alice"}) {
		t.Errorf("users after delete %v", users)
	}

	// Describe: all, named, unknown, duplicate.
	d := DescribeScramCredentials(e.store.Image(), nil)
	if len(d) != 1 || d[0].User != "alice" || d[0].Err != nil || len(d[0].Credentials) != 1 || d[0].Credentials[0].Iterations != 4096 {
		t.Errorf("describe all %+v", d)
	}
	d = DescribeScramCredentials(e.store.Image(), []string{"bob", "alice", "x", "x"})
	if len(d) != 3 || d[0].User != "alice" || d[0].Err != nil ||
		d[1].User != "bob" || d[1].Err == nil || d[1].Err.Code != kerr.ResourceNotFound.Code ||
		d[2].User != "x" || d[2].Err == nil || d[2].Err.Code != kerr.DuplicateResource.Code {
		t.Errorf("describe named %+v", d)
	}

	// Credentials survive a restart (metadata log replay).
	e.store.Close()
	s, err := metadata.Open(e.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c2, ok := s.Image().ScramCredential("alice", metadata.ScramSHA256); !ok || !reflect.DeepEqual(c2, c) {
		t.Errorf("after reopen %+v", c2)
	}
}

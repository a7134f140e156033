package metadata

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// randomRecords drives an image through n random operations, each a group
// of records that applies to the image it follows (the controller's
// contract), and returns the final image.
func randomImage(rng *rand.Rand, n int) *Image {
	img := Empty()
	pick := func(m []string) string { return m[rng.IntN(len(m))] }
	names := []string{"a", "b", "c", "orders", "__consumer_offsets"}
	users := []string{"alice", "bob"}
	for range n {
		var recs []Record
		switch rng.IntN(14) {
		case 0:
			rack := pick([]string{"r1", "r2"})
			var rp *string
			if rng.IntN(2) == 0 {
				rp = &rack
			}
			var eps []BrokerEndpoint
			if rng.IntN(2) == 0 {
				eps = []BrokerEndpoint{{Name: "PLAINTEXT", Host: "h", Port: int32(9000 + rng.IntN(9)), SecurityProtocol: SecurityPlaintext}}
			}
			r := RegisterBrokerRecord{BrokerID: int32(rng.IntN(4)), IncarnationID: UUID{0: byte(rng.IntN(255)), 15: 1}, Host: "h", Port: 9092, Rack: rp, Endpoints: eps}
			if rng.IntN(3) > 0 {
				// Version 2, as brokers register now: fenced, with
				// the next offset as epoch.
				r.BrokerEpoch, r.Fenced = img.Offset+2, true
			}
			recs = append(recs, r)
		case 1, 2:
			name := pick(names)
			id := UUID{0: byte(rng.IntN(255)), 1: byte(rng.IntN(255)), 15: 7}
			recs = append(recs, TopicRecord{Name: name, ID: id})
			for p := range rng.IntN(4) + 1 {
				recs = append(recs, PartitionRecord{TopicID: id, Partition: int32(p), Replicas: []int32{int32(rng.IntN(3))}, ISR: []int32{0}, Leader: 0})
			}
		case 3:
			if t := randomTopic(rng, img); t != nil {
				recs = append(recs, PartitionChangeRecord{TopicID: t.ID, Partition: int32(rng.IntN(len(t.Partitions))), Leader: int32(rng.IntN(3)) - 1, ISR: []int32{int32(rng.IntN(3))},
					LeaderRecovery: LeaderRecoveryChange(rng.IntN(3))})
			}
		case 4:
			if t := randomTopic(rng, img); t != nil {
				v := fmt.Sprint(rng.IntN(1000))
				var vp *string
				if rng.IntN(3) > 0 {
					vp = &v
				}
				recs = append(recs, ConfigRecord{ResourceType: ResourceTopic, ResourceName: t.Name, Name: pick([]string{"retention.ms", "cleanup.policy"}), Value: vp})
			}
		case 5:
			if t := randomTopic(rng, img); t != nil {
				recs = append(recs, RemoveTopicRecord{TopicID: t.ID})
			}
		case 6:
			v := fmt.Sprint(rng.IntN(1000))
			typ := []int8{ResourceBroker, ResourceGroup}[rng.IntN(2)]
			recs = append(recs, ConfigRecord{ResourceType: typ, ResourceName: pick([]string{"", "1", "g1"}), Name: "k" + fmt.Sprint(rng.IntN(3)), Value: &v})
		case 7:
			recs = append(recs, UserScramCredentialRecord{Name: pick(users), Mechanism: int8(rng.IntN(2) + 1), Salt: []byte{1, 2}, StoredKey: []byte{3}, ServerKey: []byte{4}, Iterations: 4096})
		case 8:
			u := pick(users)
			for m := range img.Scram[u] {
				recs = append(recs, RemoveUserScramCredentialRecord{Name: u, Mechanism: m})
				break
			}
		case 9:
			id := UUID{0: byte(rng.IntN(255)), 1: byte(rng.IntN(255)), 15: 9}
			recs = append(recs, AccessControlEntryRecord{ID: id, ACL: ACL{ResourceType: 2, ResourceName: pick(names), PatternType: 3, Principal: "User:" + pick(users), Host: "*", Operation: 3, PermissionType: 3}})
			if rng.IntN(3) == 0 {
				img.ACLs.All(func(id UUID, _ ACL) bool {
					recs = append(recs[:0], RemoveAccessControlEntryRecord{ID: id})
					return false
				})
			}
		case 10:
			name := pick(users)
			recs = append(recs, ClientQuotaRecord{Entity: []QuotaEntityData{{Type: QuotaUser, Name: &name}}, Key: "producer_byte_rate", Value: float64(rng.IntN(1 << 20))})
		case 11:
			recs = append(recs, ProducerIdsRecord{BrokerID: 1, BrokerEpoch: -1, NextProducerID: img.NextProducerID + 1000})
		case 12, 13:
			// Fencing changes of a registered broker at its epoch.
			ids := img.BrokerIDs()
			if len(ids) == 0 {
				break
			}
			b := img.Brokers[ids[rng.IntN(len(ids))]]
			switch rng.IntN(5) {
			case 0:
				recs = append(recs, FenceBrokerRecord{ID: b.ID, Epoch: b.Epoch})
			case 1:
				recs = append(recs, UnfenceBrokerRecord{ID: b.ID, Epoch: b.Epoch})
			case 2:
				recs = append(recs, BrokerRegistrationChangeRecord{BrokerID: b.ID, BrokerEpoch: b.Epoch,
					Fenced: int8(rng.IntN(3)) - 1, InControlledShutdown: int8(rng.IntN(2))})
			case 3:
				recs = append(recs, UnregisterBrokerRecord{BrokerID: b.ID, BrokerEpoch: b.Epoch})
			case 4:
				// A stale epoch, which Apply refuses.
				recs = append(recs, FenceBrokerRecord{ID: b.ID, Epoch: b.Epoch + 1})
			}
		}
		if next, err := img.Apply(recs); err == nil {
			img = next
		}
	}
	return img
}

func randomTopic(rng *rand.Rand, img *Image) *TopicImage {
	names := img.TopicNames()
	if len(names) == 0 {
		return nil
	}
	return img.TopicsByName[names[rng.IntN(len(names))]]
}

// normalized strips what Records does not carry by design (the log
// position) and nil-vs-empty differences, so two images compare by content.
func normalized(im *Image) map[string]any {
	topics := map[string]TopicImage{}
	for n, t := range im.TopicsByName {
		c := *t
		if len(c.Configs) == 0 {
			c.Configs = nil
		}
		topics[n] = c
	}
	ids := map[UUID]string{}
	for id, t := range im.TopicsByID {
		ids[id] = t.Name
	}
	acls := map[UUID]ACL{}
	im.ACLs.All(func(id UUID, a ACL) bool { acls[id] = a; return true })
	var removed []RemovedTopic
	for r := im.Removed; r != nil; r = r.Prev {
		removed = append(removed, RemovedTopic{Name: r.Name, ID: r.ID})
	}
	return map[string]any{
		"topics": topics, "ids": ids, "brokers": maps.Clone(im.Brokers), "bcf": im.BrokerConfigs, "gcf": im.GroupConfigs,
		"scram": im.Scram, "acls": acls, "quotas": im.ClientQuotas, "pid": im.NextProducerID, "removed": removed,
	}
}

// TestSnapshotRoundTrip is the checkpoint invariant: for images reached by
// random record streams, Empty().Apply(img.Records()) == img, and the
// encoded form decodes to the same image.
func TestSnapshotRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 42))
		img := randomImage(rng, rng.IntN(60))
		checkSnapshot(t, fmt.Sprintf("seed %d", seed), img)
		for _, r := range img.Records() {
			seen[r.Type().String()] = true
		}
		for _, b := range img.Brokers {
			seen[fmt.Sprintf("fenced=%v", b.Fenced)] = true
			seen[fmt.Sprintf("shutdown=%v", b.InControlledShutdown)] = true
			seen[fmt.Sprintf("epoch>0=%v", b.Epoch > 0)] = true
		}
	}
	for _, state := range []string{"fenced=true", "fenced=false", "shutdown=true", "epoch>0=true", "epoch>0=false"} {
		if !seen[state] {
			t.Errorf("no generated image holds a broker with %s", state)
		}
	}
	// The generator must reach every kind of state a checkpoint carries,
	// or the property proves less than it says.
	for _, typ := range []RecordType{TypeRegisterBroker, TypeTopic, TypePartition, TypeConfig, TypeRemoveTopic, TypeUserScramCredential,
		TypeAccessControlEntry, TypeClientQuota, TypeProducerIds} {
		if !seen[typ.String()] {
			t.Errorf("no generated image holds a %s", typ)
		}
	}
}

func checkSnapshot(t *testing.T, what string, img *Image) {
	t.Helper()
	back, err := Empty().Apply(img.Records())
	if err != nil {
		t.Fatalf("%s: records do not apply: %v", what, err)
	}
	if !reflect.DeepEqual(normalized(back), normalized(img)) {
		t.Fatalf("%s: rebuilt image differs:\n%s\nwant\n%s", what, back.Describe(), img.Describe())
	}
	dec, err := ImageFromRecords(EncodeRecords(img.Records()))
	if err != nil {
		t.Fatalf("%s: decode: %v", what, err)
	}
	if !reflect.DeepEqual(normalized(dec), normalized(img)) {
		t.Fatalf("%s: decoded image differs", what)
	}
	if !slices.Equal(EncodeRecords(dec.Records()), EncodeRecords(img.Records())) {
		t.Fatalf("%s: encoding is not deterministic", what)
	}
}

// FuzzSnapshot explores record streams from fuzzer-chosen seeds and lengths.
func FuzzSnapshot(f *testing.F) {
	f.Add(uint64(1), uint8(10))
	f.Add(uint64(7), uint8(200))
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		rng := rand.New(rand.NewPCG(seed, 7))
		checkSnapshot(t, fmt.Sprintf("seed %d n %d", seed, n), randomImage(rng, int(n)))
	})
}

package metadata

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func sp(s string) *string { return &s }

func uuid(b byte) UUID { return UUID{0: b, 15: 1} }

func allRecords() []Record {
	return []Record{
		RegisterBrokerRecord{BrokerID: 1, IncarnationID: uuid(9), Host: "127.0.0.1", Port: 9092, Rack: sp("r1")},
		RegisterBrokerRecord{BrokerID: 2, IncarnationID: uuid(8), Host: "h", Port: 1},
		RegisterBrokerRecord{BrokerID: 3, IncarnationID: uuid(7), Host: "a", Port: 9092, Endpoints: []BrokerEndpoint{
			{Name: "PLAINTEXT", Host: "a", Port: 9092, SecurityProtocol: SecurityPlaintext},
			{Name: "SASL_PLAINTEXT", Host: "b.example", Port: 9093, SecurityProtocol: SecuritySASLPlaintext}}},
		RegisterBrokerRecord{BrokerID: 4, IncarnationID: uuid(6), Host: "h", Port: 2, Endpoints: []BrokerEndpoint{}},
		TopicRecord{Name: "orders", ID: uuid(1)},
		PartitionRecord{TopicID: uuid(1), Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
		PartitionRecord{TopicID: uuid(1), Partition: 1, Replicas: []int32{1, 2}, ISR: []int32{2}, Leader: 2, LeaderEpoch: 3, PartitionEpoch: 4},
		ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "retention.ms", Value: sp("1000")},
		ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "segment.bytes", Value: sp("")},
		ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "segment.bytes"},
		ConfigRecord{ResourceType: ResourceBroker, ResourceName: "", Name: "x", Value: sp("y")},
		PartitionChangeRecord{TopicID: uuid(1), Partition: 1, Leader: 1, ISR: []int32{1, 2}},
		PartitionChangeRecord{TopicID: uuid(1), Partition: 0, Leader: NoLeaderChange, ISR: []int32{}, Replicas: []int32{1}},
		TopicRecord{Name: "gone", ID: uuid(2)},
		RemoveTopicRecord{TopicID: uuid(2)},
		ProducerIdsRecord{BrokerID: 1, BrokerEpoch: -1, NextProducerID: 1000},
		ProducerIdsRecord{BrokerID: 1, BrokerEpoch: 7, NextProducerID: 2000},
		AccessControlEntryRecord{ID: uuid(20), ACL: ACL{ResourceType: 2, ResourceName: "orders", PatternType: 3,
			Principal: "User:alice", Host: "*", Operation: 3, PermissionType: 3}},
		AccessControlEntryRecord{ID: uuid(21), ACL: ACL{ResourceType: 3, ResourceName: "grp-", PatternType: 4,
			Principal: "User:*", Host: "10.0.0.1", Operation: 2, PermissionType: 2}},
		RemoveAccessControlEntryRecord{ID: uuid(21)},
		ClientQuotaRecord{Entity: []QuotaEntityData{{Type: QuotaClientID, Name: sp("producer-1")}}, Key: "producer_byte_rate", Value: 102400},
		ClientQuotaRecord{Entity: []QuotaEntityData{{Type: QuotaUser, Name: sp("alice")}, {Type: QuotaClientID}}, Key: "request_percentage", Value: 12.5},
		ClientQuotaRecord{Entity: []QuotaEntityData{{Type: QuotaIP}}, Key: "connection_creation_rate", Value: 3},
		ClientQuotaRecord{Entity: []QuotaEntityData{{Type: QuotaIP}}, Key: "connection_creation_rate", Remove: true},
	}
}

// checkRoundTrip encodes r and checks its header, that it decodes back to
// r, that every strict prefix fails to decode (never panics) and that a
// trailing byte is reported as corrupt.
func checkRoundTrip(t *testing.T, r Record) {
	t.Helper()
	b := Encode(r)
	if RecordType(b[0]) != r.Type() || b[1] != r.Version() {
		t.Errorf("%T header %v", r, b[:2])
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("%T: %v", r, err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip %T:\n got %+v\nwant %+v", r, got, r)
	}
	// Every strict prefix must fail to decode, never panic.
	for i := 0; i < len(b); i++ {
		if _, err := Decode(b[:i]); err == nil {
			t.Errorf("%T: prefix %d of %d decoded", r, i, len(b))
		}
	}
	if _, err := Decode(append(b, 0)); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("%T: trailing byte: %v", r, err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, r := range allRecords() {
		checkRoundTrip(t, r)
	}
	if _, err := Decode([]byte{77, 0}); !errors.Is(err, ErrUnknownRecord) {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := Decode([]byte{byte(TypeTopic), 9, 0}); !errors.Is(err, ErrUnknownRecord) {
		t.Errorf("unknown version: %v", err)
	}
}

func TestImageApply(t *testing.T) {
	im, err := Empty().Apply(allRecords())
	if err != nil {
		t.Fatal(err)
	}
	if im.Offset != int64(len(allRecords())-1) {
		t.Errorf("offset %d", im.Offset)
	}
	top, ok := im.Topic("orders")
	if !ok || top.ID != uuid(1) || len(top.Partitions) != 2 {
		t.Fatalf("orders: %+v", top)
	}
	if byID, _ := im.TopicByID(uuid(1)); byID != top {
		t.Error("by-id and by-name differ")
	}
	p1 := top.Partitions[1]
	if p1.Leader != 1 || p1.LeaderEpoch != 4 || p1.PartitionEpoch != 5 || !reflect.DeepEqual(p1.ISR, []int32{1, 2}) {
		t.Errorf("partition 1 %+v", p1)
	}
	if p0 := top.Partitions[0]; p0.LeaderEpoch != 0 || p0.PartitionEpoch != 1 || len(p0.ISR) != 0 {
		t.Errorf("partition 0 %+v", p0)
	}
	if !reflect.DeepEqual(top.Configs, map[string]string{"retention.ms": "1000"}) {
		t.Errorf("configs %v", top.Configs)
	}
	if _, ok := im.Topic("gone"); ok || len(im.TopicsByID) != 1 {
		t.Error("removed topic still present")
	}
	if im.BrokerConfigs[""]["x"] != "y" || len(im.Brokers) != 4 || *im.Brokers[1].Rack != "r1" {
		t.Errorf("brokers %+v configs %v", im.Brokers, im.BrokerConfigs)
	}

	// Copy-on-write: applying to im leaves im and untouched topics alone.
	next, err := im.Apply([]Record{
		TopicRecord{Name: "other", ID: uuid(3)},
		PartitionRecord{TopicID: uuid(3), Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := im.Topic("other"); ok {
		t.Error("base image modified")
	}
	if next.TopicsByName["orders"] != top {
		t.Error("unchanged topic not shared")
	}
	next2, err := next.Apply([]Record{ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "a", Value: sp("b")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := top.Configs["a"]; ok || next2.TopicsByName["orders"].Configs["a"] != "b" {
		t.Error("config change leaked into the old image")
	}
}

func TestImageInvariants(t *testing.T) {
	base, _ := Empty().Apply([]Record{TopicRecord{Name: "a", ID: uuid(1)}})
	bad := [][]Record{
		{TopicRecord{Name: "a", ID: uuid(2)}},
		{TopicRecord{Name: "b", ID: uuid(1)}},
		{TopicRecord{Name: "b"}},
		{PartitionRecord{TopicID: uuid(1), Partition: 1, Replicas: []int32{1}}},
		{PartitionRecord{TopicID: uuid(5), Partition: 0, Replicas: []int32{1}}},
		{PartitionRecord{TopicID: uuid(1), Partition: 0}},
		{PartitionChangeRecord{TopicID: uuid(1), Partition: 0, Leader: NoLeaderChange}},
		{ConfigRecord{ResourceType: ResourceTopic, ResourceName: "nope", Name: "x", Value: sp("1")}},
		{RemoveTopicRecord{TopicID: uuid(7)}},
		// Producer ids never go back, nor stand still: a second claim on
		// the same block is refused.
		{ProducerIdsRecord{BrokerID: 1, NextProducerID: 100}, ProducerIdsRecord{BrokerID: 1, NextProducerID: 50}},
		{ProducerIdsRecord{BrokerID: 1, NextProducerID: 100}, ProducerIdsRecord{BrokerID: 2, NextProducerID: 100}},
		// A valid record followed by an invalid one: the whole batch fails.
		{TopicRecord{Name: "c", ID: uuid(3)}, TopicRecord{Name: "c", ID: uuid(4)}},
	}
	for i, recs := range bad {
		if _, err := base.Apply(recs); err == nil {
			t.Errorf("case %d applied", i)
		}
	}
	if _, ok := base.Topic("c"); ok {
		t.Error("failed batch leaked")
	}
}

func TestStoreReplayAndSubscribe(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var calls []int64
	s.Subscribe(func(old, new *Image) { calls = append(calls, new.Offset) })
	recs := allRecords()
	if err := s.Append(recs[:5]...); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(recs[5:]...); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(TopicRecord{Name: "orders", ID: uuid(6)}); err == nil {
		t.Fatal("duplicate topic appended")
	}
	want := s.Image()
	// One publication per Append, in order, the second at the image's
	// offset (raft entries, not records, move it now).
	if len(calls) != 2 || calls[0] >= calls[1] || calls[1] != want.Offset {
		t.Errorf("subscriber calls %v (image at %d)", calls, want.Offset)
	}
	s.Close()
	if err := s.Append(recs[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}

	s2, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if !sameContent(s2.Image(), want) {
		t.Errorf("replayed image differs:\n got %s\nwant %s", s2.Image().Describe(), want.Describe())
	}
	if err := s2.Append(TopicRecord{Name: "after", ID: uuid(7)}); err != nil {
		t.Fatal(err)
	}
	if s2.Image().Offset <= want.Offset {
		t.Errorf("offset after reopen append %d, before %d", s2.Image().Offset, want.Offset)
	}
}

func TestStoreTornTail(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(TopicRecord{Name: "a", ID: uuid(1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(TopicRecord{Name: "b", ID: uuid(2)}); err != nil {
		t.Fatal(err)
	}
	want := s.Image()
	s.Close()
	path := dataFile(t, dir)
	data, _ := os.ReadFile(path)

	for name, tail := range map[string][]byte{
		"garbage":       []byte("\x00\x00\x00\x40garbage that is not a frame"),
		"partial frame": data[:len(data)/2],
		"random":        {1, 2, 3},
	} {
		if err := os.WriteFile(path, append(append([]byte{}, data...), tail...), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !sameContent(s.Image(), want) {
			t.Errorf("%s: image differs", name)
		}
		if err := s.Append(TopicRecord{Name: "c", ID: uuid(3)}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s.Close()
		s, err = Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Image().Topic("c"); !ok || len(s.Image().TopicsByName) != 3 {
			t.Errorf("%s: append after recovery lost", name)
		}
		s.Close()
	}

	// A torn second batch loses only that batch.
	if err := os.WriteFile(path, data[:len(data)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.Image().Topic("a"); !ok || len(s.Image().TopicsByName) != 1 {
		t.Errorf("torn batch: topics %v", s.Image().TopicNames())
	}
}

func FuzzDecode(f *testing.F) {
	for _, r := range allRecords() {
		f.Add(Encode(r))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Decode(Encode(r))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("re-encode of %+v: %+v, %v", r, again, err)
		}
	})
}

// sameContent compares two images by what they hold, not where in the
// log they were taken (a restart appends a new leader's empty entry).
func sameContent(a, b *Image) bool { return reflect.DeepEqual(normalized(a), normalized(b)) }

// dataFile returns the metadata log's data file (the only segment).
func dataFile(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(m) != 1 {
		t.Fatalf("metadata log files %v", m)
	}
	return m[0]
}

// TestRegisterBrokerVersions checks that version 0 bytes (written before
// endpoints existed) still decode, that a record with endpoints is written
// as version 1, and that the image answers per listener.
func TestRegisterBrokerVersions(t *testing.T) {
	v0 := RegisterBrokerRecord{BrokerID: 1, IncarnationID: uuid(3), Host: "h", Port: 9092}
	b := Encode(v0)
	if b[1] != 0 {
		t.Fatalf("record without endpoints encoded as version %d", b[1])
	}
	// The version 0 layout, byte for byte: id, incarnation, host, port, null rack.
	u := uuid(3)
	want := append([]byte{0, 0, 0, 0, 0, 1}, u[:]...)
	want = append(want, 1, 'h', 0, 0, 0x23, 0x84, 0)
	if string(b) != string(want) {
		t.Fatalf("v0 bytes %x, want %x", b, want)
	}
	v1 := v0
	v1.Endpoints = []BrokerEndpoint{{Name: "PLAINTEXT", Host: "h", Port: 9092}, {Name: "SASL_PLAINTEXT", Host: "s", Port: 9093, SecurityProtocol: SecuritySASLPlaintext}}
	if Encode(v1)[1] != 1 {
		t.Fatal("record with endpoints not encoded as version 1")
	}
	bad := Encode(v1)
	bad[1] = 3
	if _, err := Decode(bad); !errors.Is(err, ErrUnknownRecord) {
		t.Fatalf("version 3 decoded: %v", err)
	}
	img := Empty()
	for _, r := range []Record{v0, RegisterBrokerRecord{BrokerID: 2, IncarnationID: uuid(4), Host: "h", Port: 9092, Endpoints: v1.Endpoints}} {
		next, err := img.Apply([]Record{r})
		if err != nil {
			t.Fatal(err)
		}
		img = next
	}
	if h, p, ok := img.Brokers[1].Endpoint("SASL_PLAINTEXT"); !ok || h != "h" || p != 9092 {
		t.Errorf("v0 broker on SASL_PLAINTEXT: %s:%d %v", h, p, ok)
	}
	if h, p, ok := img.Brokers[2].Endpoint("SASL_PLAINTEXT"); !ok || h != "s" || p != 9093 {
		t.Errorf("v1 broker on SASL_PLAINTEXT: %s:%d %v", h, p, ok)
	}
	if _, _, ok := img.Brokers[2].Endpoint("OTHER"); ok {
		t.Error("v1 broker has an endpoint on a listener it did not register")
	}
}

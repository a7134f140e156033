package metadata

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestBrokerRecordsRoundTrip: every lifecycle record and every
// RegisterBrokerRecord version encodes and decodes to itself, and the
// version follows the fields a record carries.
func TestBrokerRecordsRoundTrip(t *testing.T) {
	rack := "r1"
	eps := []BrokerEndpoint{{Name: "PLAINTEXT", Host: "h", Port: 9092}, {Name: "SASL_PLAINTEXT", Host: "s", Port: 9093, SecurityProtocol: SecuritySASLPlaintext}}
	for _, tc := range []struct {
		r       Record
		version uint8
	}{
		{RegisterBrokerRecord{BrokerID: 1, IncarnationID: uuid(1), Host: "h", Port: 9092}, 0},
		{RegisterBrokerRecord{BrokerID: 1, IncarnationID: uuid(1), Host: "h", Port: 9092, Endpoints: eps}, 1},
		{RegisterBrokerRecord{BrokerID: 1, IncarnationID: uuid(1), Host: "h", Port: 9092, Rack: &rack, Endpoints: eps, BrokerEpoch: 42, Fenced: true}, 2},
		{RegisterBrokerRecord{BrokerID: 2, IncarnationID: uuid(2), Host: "h", Port: 1, Endpoints: []BrokerEndpoint{}, BrokerEpoch: 7}, 2},
		{RegisterBrokerRecord{BrokerID: 2, IncarnationID: uuid(2), Host: "h", Port: 1, InControlledShutdown: true}, 2},
		{UnregisterBrokerRecord{BrokerID: 3, BrokerEpoch: 1 << 40}, 0},
		{FenceBrokerRecord{ID: 4, Epoch: 99}, 0},
		{UnfenceBrokerRecord{ID: 5, Epoch: 100}, 0},
		{BrokerRegistrationChangeRecord{BrokerID: 6, BrokerEpoch: 101, Fenced: FencingUnfence, InControlledShutdown: ShutdownIn}, 0},
		{BrokerRegistrationChangeRecord{BrokerID: 6, BrokerEpoch: 101, Fenced: FencingFence}, 0},
	} {
		b := Encode(tc.r)
		if b[0] != byte(tc.r.Type()) || b[1] != tc.version {
			t.Errorf("%+v: encoded as type %d version %d, want %d version %d", tc.r, b[0], b[1], tc.r.Type(), tc.version)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%+v: %v", tc.r, err)
		}
		if !reflect.DeepEqual(got, tc.r) {
			t.Errorf("round trip of %+v gave %+v", tc.r, got)
		}
		if strings.HasPrefix(tc.r.Type().String(), "RecordType(") {
			t.Errorf("type %d has no name: %s", tc.r.Type(), tc.r.Type())
		}
		// Every truncation is refused, never a panic or a shorter record.
		for n := 2; n < len(b); n++ {
			if _, err := Decode(b[:n]); !errors.Is(err, ErrCorruptRecord) {
				t.Errorf("%s cut to %d bytes: %v", tc.r.Type(), n, err)
			}
		}
	}
	// A bool byte other than 0 or 1 is corrupt.
	b := Encode(RegisterBrokerRecord{BrokerID: 1, Host: "h", Fenced: true, BrokerEpoch: 3})
	b[len(b)-2] = 2
	if _, err := Decode(b); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("fenced byte 2 decoded: %v", err)
	}
}

// TestBrokerFencingApply: registration, fencing and unfencing follow the
// epoch of the registration, and the live/usable broker lists follow.
func TestBrokerFencingApply(t *testing.T) {
	img := Empty()
	apply := func(recs ...Record) error {
		next, err := img.Apply(recs)
		if err == nil {
			img = next
		}
		return err
	}
	must := func(recs ...Record) {
		t.Helper()
		if err := apply(recs...); err != nil {
			t.Fatal(err)
		}
	}
	must(RegisterBrokerRecord{BrokerID: 1, IncarnationID: uuid(1), Host: "h", Port: 1, BrokerEpoch: 10, Fenced: true},
		RegisterBrokerRecord{BrokerID: 2, IncarnationID: uuid(2), Host: "h", Port: 2, BrokerEpoch: 11, Fenced: true},
		RegisterBrokerRecord{BrokerID: 3, IncarnationID: uuid(3), Host: "h", Port: 3}) // v0: unfenced
	if got := img.LiveBrokerIDs(); !slices.Equal(got, []int32{3}) {
		t.Fatalf("live %v, want [3]", got)
	}
	if err := apply(UnfenceBrokerRecord{ID: 1, Epoch: 9}); err == nil {
		t.Fatal("unfence at a stale epoch applied")
	}
	if err := apply(FenceBrokerRecord{ID: 7, Epoch: 0}); err == nil {
		t.Fatal("fence of an unknown broker applied")
	}
	must(UnfenceBrokerRecord{ID: 1, Epoch: 10}, BrokerRegistrationChangeRecord{BrokerID: 2, BrokerEpoch: 11, Fenced: FencingUnfence})
	if got := img.UsableBrokerIDs(); !slices.Equal(got, []int32{1, 2, 3}) {
		t.Fatalf("usable %v, want [1 2 3]", got)
	}
	must(BrokerRegistrationChangeRecord{BrokerID: 2, BrokerEpoch: 11, InControlledShutdown: ShutdownIn})
	if got, live := img.UsableBrokerIDs(), img.LiveBrokerIDs(); !slices.Equal(got, []int32{1, 3}) || !slices.Equal(live, []int32{1, 2, 3}) {
		t.Fatalf("usable %v live %v with broker 2 shutting down", got, live)
	}
	must(FenceBrokerRecord{ID: 1, Epoch: 10})
	if b := img.Brokers[1]; !b.Fenced || b.Epoch != 10 {
		t.Fatalf("broker 1 after fence: %+v", b)
	}
	// Registering again needs a greater epoch; it replaces the state.
	if err := apply(RegisterBrokerRecord{BrokerID: 2, IncarnationID: uuid(5), Host: "h", Port: 2, BrokerEpoch: 11, Fenced: true}); err == nil {
		t.Fatal("re-registration at the same epoch applied")
	}
	must(RegisterBrokerRecord{BrokerID: 2, IncarnationID: uuid(5), Host: "h", Port: 2, BrokerEpoch: 20, Fenced: true})
	if b := img.Brokers[2]; !b.Fenced || b.InControlledShutdown || b.Epoch != 20 || b.IncarnationID != uuid(5) {
		t.Fatalf("broker 2 after re-registration: %+v", b)
	}
	if err := apply(BrokerRegistrationChangeRecord{BrokerID: 2, BrokerEpoch: 20, Fenced: 5}); err == nil {
		t.Fatal("unknown fencing change applied")
	}
	if err := apply(UnregisterBrokerRecord{BrokerID: 2, BrokerEpoch: 11}); err == nil {
		t.Fatal("unregister at a stale epoch applied")
	}
	must(UnregisterBrokerRecord{BrokerID: 2, BrokerEpoch: 20})
	if _, ok := img.Brokers[2]; ok {
		t.Fatal("broker 2 still registered")
	}
	checkSnapshot(t, "fencing", img)
}

package share

import (
	"slices"
	"testing"
	"time"
)

// FuzzSnapshot feeds arbitrary bytes to the __share_group_state decoders
// (replay reads whatever the topic holds): they must not panic, and what
// decodes must survive a round trip.
func FuzzSnapshot(f *testing.F) {
	f.Add(encodeSnapshot(snapshot{startOffset: 5, batches: []stateBatch{{5, 9, stateArchived, 1}, {12, 12, stateAvailable, 3}}}, time.Unix(0, 0)), encodeKey(key{"g", [16]byte{1}, 2}))
	f.Add(encodeSnapshot(snapshot{}, time.Unix(0, 0)), []byte{0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, value, k []byte) {
		if dk, ok, err := decodeKey(k); err == nil && ok {
			if again, _, _ := decodeKey(encodeKey(dk)); again != dk {
				t.Fatalf("key round trip: %+v != %+v", again, dk)
			}
		}
		s, err := decodeSnapshot(value)
		if err != nil {
			return
		}
		again, err := decodeSnapshot(encodeSnapshot(s, time.Unix(0, 0)))
		if err != nil || again.startOffset != s.startOffset || again.stateEpoch != s.stateEpoch || !slices.Equal(again.batches, s.batches) {
			t.Fatalf("round trip: %+v (%v) != %+v", again, err, s)
		}
		// Restoring a decoded snapshot keeps the package's invariants.
		sp := &sharePartition{}
		sp.restore(s)
		if len(sp.recs) > 0 && (sp.recs[0].state == stateAcknowledged || sp.recs[0].state == stateArchived) {
			t.Fatalf("restored SPSO %d sits on a finished record", sp.spso)
		}
	})
}

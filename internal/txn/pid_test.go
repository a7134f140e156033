package txn

import (
	"os"
	"path/filepath"
	"testing"
)

// TestIDAllocatorNeverReuses: ids handed out before a restart (clean or
// not) are below every id handed out after it, because each block is a
// ProducerIdsRecord in the metadata log before its first id is used; a
// producer-ids file of the older scheme is honoured once and removed.
func TestIDAllocatorNeverReuses(t *testing.T) {
	dir := t.TempDir()
	legacy := filepath.Join(dir, legacyPIDFile)
	if err := os.WriteFile(legacy, []byte(legacyPIDHdr+"5000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	maxSeen := int64(4999) // the legacy file says ids below 5000 were used
	e := newEnv(t, dir)
	for round := 0; round < 3; round++ {
		if round > 0 {
			e = e.restart()
		}
		for i := 0; i < pidBlockSize+5; i++ {
			id, err := e.c.ids.Next()
			if err != nil {
				t.Fatal(err)
			}
			if seen[id] || id <= maxSeen {
				t.Fatalf("round %d: id %d handed out again (max before %d)", round, id, maxSeen)
			}
			seen[id], maxSeen = true, id
		}
		if _, err := os.Stat(legacy); !os.IsNotExist(err) {
			t.Fatalf("round %d: legacy producer-ids still there (%v)", round, err)
		}
		if next := e.meta.Image().NextProducerID; next <= maxSeen {
			t.Fatalf("round %d: metadata next producer id %d, handed out up to %d", round, next, maxSeen)
		}
	}
	if err := os.WriteFile(legacy, []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenIDAllocator(dir, nil); err == nil {
		t.Fatalf("corrupt producer-ids accepted")
	}
}

// TestPartitionFor matches Kafka's Utils.abs(id.hashCode()) % 50.
func TestPartitionFor(t *testing.T) {
	for id, want := range map[string]int32{
		"txn-1":                    10, // hashCode 110810510
		"transactional-producer-7": 42, // hashCode -447076992
		"ctp-processor":            8,  // hashCode -1931422108
	} {
		if got := PartitionFor(id, 50); got != want {
			t.Errorf("PartitionFor(%q) = %d, want %d", id, got, want)
		}
	}
}

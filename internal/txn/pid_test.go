package txn

import (
	"os"
	"path/filepath"
	"testing"
)

// TestIDAllocatorNeverReuses: ids handed out before a reopen (clean or
// not) are below every id handed out after it.
func TestIDAllocatorNeverReuses(t *testing.T) {
	dir := t.TempDir()
	seen := map[int64]bool{}
	maxSeen := int64(-1)
	for round := 0; round < 3; round++ {
		a, err := OpenIDAllocator(dir)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < pidBlockSize+5; i++ {
			id, err := a.Next()
			if err != nil {
				t.Fatal(err)
			}
			if seen[id] || id <= maxSeen {
				t.Fatalf("round %d: id %d handed out again (max before %d)", round, id, maxSeen)
			}
			seen[id], maxSeen = true, id
		}
	}
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenIDAllocator(dir); err == nil {
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
		if got := partitionFor(id, 50); got != want {
			t.Errorf("partitionFor(%q) = %d, want %d", id, got, want)
		}
	}
}

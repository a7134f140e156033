package replica

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-io/sluice/internal/metadata"
)

// TestReassignedAwayLogDeleted: a partition the image moves to another
// broker (same topic id) has its log deleted, while running and at the
// next start; a directory of the same name pinned to another topic id is
// a stray and stays.
func TestReassignedAwayLogDeleted(t *testing.T) {
	moved := func(tid metadata.UUID) metadata.Record {
		return metadata.PartitionChangeRecord{TopicID: tid, Leader: 2, Replicas: []int32{2}, ISR: []int32{2}}
	}

	// Running: the manager hosts t-0, then the image moves it to broker 2.
	dir := t.TempDir()
	m, _ := newTestManager(t, dir)
	created := createTopic("t", id(1))
	if err := m.Apply(image(t, created)); err != nil {
		t.Fatal(err)
	}
	if m.Get("t", 0) == nil {
		t.Fatal("t-0 not hosted")
	}
	if err := m.Apply(image(t, created, []metadata.Record{moved(id(1))})); err != nil {
		t.Fatal(err)
	}
	if m.Get("t", 0) != nil {
		t.Fatal("t-0 still hosted")
	}
	if _, err := os.Stat(filepath.Join(dir, "t-0")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("t-0 directory after the move: %v (%v)", err, dirNames(t, dir))
	}

	// At start: a log of a partition moved away while the broker was down
	// is deleted; one pinned to another id under a moved name is kept.
	dir = t.TempDir()
	withData(t, dir, "a", id(2), 3)
	withData(t, dir, "b", id(3), 3)
	m2, _ := newTestManager(t, dir)
	img := image(t, createTopic("a", id(2)), []metadata.Record{moved(id(2))},
		createTopic("b", id(4)), []metadata.Record{moved(id(4))})
	if err := m2.Apply(img); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a-0")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a-0 after start: %v (%v)", err, dirNames(t, dir))
	}
	if pinned, err := metadata.ReadPartitionTopicID(filepath.Join(dir, "b-0")); err != nil || pinned != id(3) {
		t.Fatalf("stray b-0: %v %v", pinned, err)
	}
}

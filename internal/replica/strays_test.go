package replica

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/record"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestManager(t *testing.T, dir string) (*Manager, *syncBuffer) {
	t.Helper()
	b, err := config.Build(map[string]string{"log.dirs": dir, "log.cleaner.enable": "false"})
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	m := NewManager(dir, b, slog.New(slog.NewTextHandler(out, nil)))
	t.Cleanup(func() { m.Close() })
	return m, out
}

func id(b byte) metadata.UUID { return metadata.UUID{0: b, 15: 7} }

// image applies batches of records to the empty image.
func image(t *testing.T, batches ...[]metadata.Record) *metadata.Image {
	t.Helper()
	img := metadata.Empty()
	for _, recs := range batches {
		next, err := img.Apply(recs)
		if err != nil {
			t.Fatal(err)
		}
		img = next
	}
	return img
}

func createTopic(name string, tid metadata.UUID) []metadata.Record {
	return []metadata.Record{metadata.TopicRecord{Name: name, ID: tid},
		metadata.PartitionRecord{TopicID: tid, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}}
}

// withData creates partition 0 of topic name (id tid) in dir through a
// Manager and appends n records to it.
func withData(t *testing.T, dir, name string, tid metadata.UUID, n int) {
	t.Helper()
	b, err := config.Build(map[string]string{"log.dirs": dir, "log.cleaner.enable": "false"})
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(dir, b, slog.New(slog.DiscardHandler))
	if err := m.Apply(image(t, createTopic(name, tid))); err != nil {
		t.Fatal(err)
	}
	batch, err := record.Build(record.BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		Records: record.NewRecords(make([][2][]byte, n)...)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(name, 0).Append(batch, int64(n)); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestStrayMovedAsideOnRecreate: a directory pinned to a topic id the
// image does not know is moved aside, whole, when a topic of the same
// name (a new id) is created, and the new topic starts empty.
func TestStrayMovedAsideOnRecreate(t *testing.T) {
	dir := t.TempDir()
	withData(t, dir, "t", id(1), 5)
	before, err := os.ReadFile(filepath.Join(dir, "t-0", "00000000000000000000.log"))
	if err != nil || len(before) == 0 {
		t.Fatalf("segment: %v", err)
	}

	m, logs := newTestManager(t, dir)
	if err := m.Apply(image(t)); err != nil { // the metadata forgot t
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), filepath.Join(dir, "t-0")) {
		t.Fatalf("no warning naming the stray:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(dir, "t-0", "00000000000000000000.log")); err != nil {
		t.Fatalf("stray touched at start: %v", err)
	}

	if err := m.Apply(image(t, createTopic("t", id(2)))); err != nil {
		t.Fatal(err)
	}
	if p := m.Get("t", 0); p == nil || p.Log().EndOffset() != 0 {
		t.Fatal("the new topic did not start empty")
	}
	var aside string
	for _, name := range dirNames(t, dir) {
		if strings.HasPrefix(name, "t-0.") && strings.HasSuffix(name, metadata.StraySuffix) {
			aside = filepath.Join(dir, name)
		}
	}
	if aside == "" {
		t.Fatalf("no stray directory in %v", dirNames(t, dir))
	}
	kept, err := os.ReadFile(filepath.Join(aside, "00000000000000000000.log"))
	if err != nil || !bytes.Equal(kept, before) {
		t.Fatalf("stray data not kept: %v", err)
	}
	if pinned, err := metadata.ReadPartitionTopicID(aside); err != nil || pinned != id(1) {
		t.Fatalf("stray pinned to %v, %v", pinned, err)
	}
	if pinned, err := metadata.ReadPartitionTopicID(filepath.Join(dir, "t-0")); err != nil || pinned != id(2) {
		t.Fatalf("new directory pinned to %v, %v", pinned, err)
	}
}

// TestDeletedTopicDirectories: directories of topics the metadata log
// removed are deleted: at the first Apply (a delete a crash interrupted),
// when the name is reused, and when the image removes the topic while
// running. Interrupted deletes are finished; strays kept aside stay.
func TestDeletedTopicDirectories(t *testing.T) {
	dir := t.TempDir()
	withData(t, dir, "gone", id(1), 3)
	withData(t, dir, "reused", id(2), 3)
	leftovers := []string{"x-0." + strings.Repeat("ab", 16) + metadata.DeleteSuffix, "y-3.stale-delete"}
	kept := "z-0." + strings.Repeat("cd", 16) + metadata.StraySuffix
	for _, name := range append(leftovers, kept, "not-a-partition") {
		if err := os.MkdirAll(filepath.Join(dir, name, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	img := image(t, createTopic("gone", id(1)), createTopic("reused", id(2)), createTopic("live", id(4)),
		[]metadata.Record{metadata.RemoveTopicRecord{TopicID: id(1)}},
		[]metadata.Record{metadata.RemoveTopicRecord{TopicID: id(2)}},
		createTopic("reused", id(3)))

	m, logs := newTestManager(t, dir)
	if err := m.Apply(img); err != nil {
		t.Fatal(err)
	}
	names := strings.Join(dirNames(t, dir), " ")
	for _, gone := range append(leftovers, "gone-0") {
		if strings.Contains(names, gone) {
			t.Errorf("%s not removed: %s", gone, names)
		}
	}
	for _, stay := range []string{kept, "not-a-partition", "reused-0", "live-0"} {
		if !strings.Contains(names, stay) {
			t.Errorf("%s missing: %s", stay, names)
		}
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("warned:\n%s", logs)
	}
	if p := m.Get("reused", 0); p == nil || p.Log().EndOffset() != 0 {
		t.Fatal("reused name did not start empty")
	}

	// A delete while running.
	if err := m.Apply(image(t)); err != nil {
		t.Fatal(err)
	}
	for _, name := range dirNames(t, dir) {
		if strings.HasPrefix(name, "live-0") || strings.HasPrefix(name, "reused-0") {
			t.Errorf("%s left after the delete", name)
		}
	}
}

// TestUnpinnedDirectory: a directory without partition.metadata is
// reused when it holds no records (open was cut short before pinning it)
// and moved aside when it does.
func TestUnpinnedDirectory(t *testing.T) {
	dir := t.TempDir()
	withData(t, dir, "full", id(1), 2)
	if err := os.Remove(filepath.Join(dir, "full-0", metadata.PartitionMetadataFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty-0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty-0", "00000000000000000000.log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m, _ := newTestManager(t, dir)
	if err := m.Apply(image(t, createTopic("full", id(2)), createTopic("empty", id(3)))); err != nil {
		t.Fatal(err)
	}
	var strays []string
	for _, name := range dirNames(t, dir) {
		if strings.HasSuffix(name, metadata.StraySuffix) {
			strays = append(strays, name)
		}
	}
	if len(strays) != 1 || !strings.HasPrefix(strays[0], "full-0.") {
		t.Fatalf("strays %v; want only full-0 moved aside", strays)
	}
	if p := m.Get("full", 0); p == nil || p.Log().EndOffset() != 0 {
		t.Fatal("full-0 did not start empty")
	}
}

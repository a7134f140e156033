package replica

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/metadata"
)

func createReplicated(name string, tid metadata.UUID) []metadata.Record {
	return []metadata.Record{metadata.TopicRecord{Name: name, ID: tid},
		metadata.PartitionRecord{TopicID: tid, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1}}
}

// TestHWCheckpointFormat: Kafka's text layout (version 0, count, one
// "<topic> <partition> <hw>" line each), sorted, and it reads back.
func TestHWCheckpointFormat(t *testing.T) {
	hws := map[TP]int64{{"b", 0}: 7, {"a", 10}: 3, {"a", 2}: 0}
	got := string(encodeHWCheckpoint(hws))
	want := "0\n3\na 2 0\na 10 3\nb 0 7\n"
	if got != want {
		t.Fatalf("file %q, want %q", got, want)
	}
	back, err := decodeHWCheckpoint([]byte(got))
	if err != nil || len(back) != 3 || back[TP{"a", 10}] != 3 || back[TP{"b", 0}] != 7 {
		t.Fatalf("read back %v %v", back, err)
	}
	for _, bad := range []string{"", "1\n0\n", "0\nx\n", "0\n2\na 0 1\n", "0\n1\na 0\n", "0\n1\na 0 -1\n",
		"0\n1\na x 1\n", "0\n1\na 0 1\nb 0 2\n"} {
		if _, err := decodeHWCheckpoint([]byte(bad)); err == nil {
			t.Errorf("damaged file %q accepted", bad)
		}
	}
}

// TestHWCheckpointReplace: each write replaces the whole file through a
// temporary file, leaving only the new content and no temporary behind.
func TestHWCheckpointReplace(t *testing.T) {
	dir := t.TempDir()
	c := &hwCheckpoint{dir: dir}
	if err := c.write(map[TP]int64{{"t", 0}: 5, {"u", 1}: 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.write(map[TP]int64{{"t", 0}: 9}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, HWCheckpointFile))
	if err != nil || string(b) != "0\n1\nt 0 9\n" {
		t.Fatalf("file %q %v", b, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %v, want only the checkpoint", ents)
	}
	// lower rewrites only when the file holds more.
	if err := c.lower(TP{"t", 0}, 12); err != nil {
		t.Fatal(err)
	}
	if err := c.lower(TP{"t", 0}, 4); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, HWCheckpointFile)); string(b) != "0\n1\nt 0 4\n" {
		t.Fatalf("after lower: %q", b)
	}
}

// TestReopenReplicatedAtCheckpointedHW: a partition with two replicas
// reopens at the HW its ISR confirmed (checkpointed at Close), not at its
// LEO, and stays there until the follower fetches; a single-replica
// partition reopens at its LEO as before; a damaged file is ignored with a
// log line and the replicated partition opens at its log start.
func TestReopenReplicatedAtCheckpointedHW(t *testing.T) {
	dir := t.TempDir()
	img := image(t, createReplicated("r", id(1)), createTopic("s", id(2)))
	m, _ := newTestManager(t, dir)
	if err := m.Apply(img); err != nil {
		t.Fatal(err)
	}
	r, s := m.Get("r", 0), m.Get("s", 0)
	appendN(t, r, 5)
	appendN(t, s, 4)
	if hw := r.UpdateFollower(2, -1, 3, time.Now()); hw != 3 {
		t.Fatalf("HW %d, want 3", hw)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m2, _ := newTestManager(t, dir)
	if err := m2.Apply(img); err != nil {
		t.Fatal(err)
	}
	r, s = m2.Get("r", 0), m2.Get("s", 0)
	if hw, leo := r.HighWatermark(), r.Log().EndOffset(); hw != 3 || leo != 5 {
		t.Fatalf("replicated partition reopened at HW %d LEO %d, want 3 and 5", hw, leo)
	}
	if rr, err := r.Read(3, 1<<20); err != nil || rr.Size != 0 {
		t.Fatalf("read above the checkpointed HW: %v %v", rr, err)
	}
	if hw := s.HighWatermark(); hw != 4 {
		t.Fatalf("single-replica partition reopened at HW %d, want its LEO 4", hw)
	}
	if hw := r.UpdateFollower(2, -1, 5, time.Now()); hw != 5 {
		t.Fatalf("HW %d once the follower has everything, want 5", hw)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(dir, HWCheckpointFile), []byte("0\n2\nr 0 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m3, out := newTestManager(t, dir)
	if err := m3.Apply(img); err != nil {
		t.Fatal(err)
	}
	if hw := m3.Get("r", 0).HighWatermark(); hw != 0 {
		t.Fatalf("HW %d from a damaged checkpoint, want 0", hw)
	}
	if hw := m3.Get("s", 0).HighWatermark(); hw != 4 {
		t.Fatalf("single-replica HW %d with a damaged checkpoint, want 4", hw)
	}
	if !strings.Contains(out.String(), "damaged high-watermark checkpoint") {
		t.Fatalf("no log line for the damaged file: %s", out)
	}
}

func TestOpenHW(t *testing.T) {
	for _, c := range []struct {
		replicas        int
		ckpt            int64
		ok              bool
		start, end, out int64
	}{
		{1, 3, true, 0, 9, 9},  // one replica: the LEO
		{3, 3, true, 0, 9, 3},  // the checkpoint
		{3, 12, true, 0, 9, 9}, // never past the LEO
		{3, 0, false, 0, 9, 0}, // absent: 0
		{3, 2, true, 5, 9, 5},  // never below the log start
		{3, 0, false, 5, 5, 5}, // a reset log
	} {
		if got := openHW(c.replicas, c.ckpt, c.ok, c.start, c.end); got != c.out {
			t.Errorf("openHW(%+v) = %d, want %d", c, got, c.out)
		}
	}
}

package metadata

import (
	"flag"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

var genLegacy = flag.Bool("gen-legacy", false, "rewrite testdata/legacy: a metadata log in the single-node format")

const legacyFixture = "testdata/legacy/__cluster_metadata-0"

// legacyImage is what the fixture holds: allRecords in two batches, as
// the single-node Store wrote them (one batch per Append).
func legacyImage(t *testing.T) *Image {
	recs := allRecords()
	img, err := Empty().Apply(recs[:5])
	if err != nil {
		t.Fatal(err)
	}
	if img, err = img.Apply(recs[5:]); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestGenLegacyFixture writes the fixture with the old format's writer
// (batchLog: one record batch per change, one offset per record) when run
// with -gen-legacy; it was generated once and is kept as it is.
func TestGenLegacyFixture(t *testing.T) {
	if !*genLegacy {
		t.Skip("run with -gen-legacy to rewrite the fixture")
	}
	os.RemoveAll(legacyFixture)
	l, err := openBatchLog(legacyFixture, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	recs := allRecords()
	for _, group := range [][]Record{recs[:5], recs[5:]} {
		raw := make([][]byte, len(group))
		for i, r := range group {
			raw[i] = Encode(r)
		}
		if _, err := l.Append(raw); err != nil {
			t.Fatal(err)
		}
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateLegacy opens a data directory written before the quorum: the
// image is the same, the old log is kept aside, and the migration happens
// once.
func TestMigrateLegacy(t *testing.T) {
	want := legacyImage(t)
	for _, crashAfterRename := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), LogDirName)
		copyTree(t, legacyFixture, dir)
		if crashAfterRename {
			// A crash after the old log was moved aside, before the
			// checkpoint was written: the next open migrates from there.
			if err := os.Rename(dir, dir+LegacySuffix); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(dir, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("crash=%v: %v", crashAfterRename, err)
		}
		if !sameContent(s.Image(), want) {
			t.Fatalf("crash=%v: migrated image:\n%s\nwant\n%s", crashAfterRename, s.Image().Describe(), want.Describe())
		}
		if err := s.Append(TopicRecord{Name: "after-migration", ID: uuid(9)}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := os.Stat(filepath.Join(dir+LegacySuffix, "00000000000000000000.log")); err != nil {
			t.Fatalf("old log not kept aside: %v", err)
		}
		s, err = Open(dir, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Image().Topic("after-migration"); !ok || !sameContent(s.Image(), mustApply(t, want, TopicRecord{Name: "after-migration", ID: uuid(9)})) {
			t.Fatalf("reopened after migration:\n%s", s.Image().Describe())
		}
		s.Close()
	}
}

func mustApply(t *testing.T, img *Image, recs ...Record) *Image {
	t.Helper()
	next, err := img.Apply(recs)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

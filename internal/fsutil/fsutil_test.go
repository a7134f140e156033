package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomicReplaces(t *testing.T) {
	dir := t.TempDir()
	for _, body := range []string{"first", "second"} {
		if err := WriteFileAtomic(dir, "f", []byte(body)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "f"))
		if err != nil || string(got) != body {
			t.Fatalf("read %q, %v; want %q", got, err, body)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "f.tmp")); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing"), "f", nil); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

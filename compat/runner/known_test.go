package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestKnownClusterEntries: a cluster:<suite> entry explains a failure only
// in a cluster run, and may not repeat a test listed for every run.
func TestKnownClusterEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known.txt")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("kgo TestA fails a reason long enough\ncluster:kgo TestB fails only with several brokers\ncluster:kgo TestC crashes only with several brokers\n")
	single, err := loadKnown(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := single.Reason("kgo", "TestB"); ok {
		t.Fatal("a cluster-only entry applies to a single-node run")
	}
	if len(single.NotRun("kgo")) != 0 {
		t.Fatal("a cluster-only crash entry skips a test on a single node")
	}
	cl, err := loadKnown(path, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, test := range []string{"TestA", "TestB", "TestC"} {
		if _, ok := cl.Reason("kgo", test); !ok {
			t.Fatalf("cluster run: %s not explained", test)
		}
	}
	if _, ok := cl.NotRun("kgo")["TestC"]; !ok {
		t.Fatal("cluster run: TestC should not run")
	}
	write("kgo TestA fails a reason long enough\ncluster:kgo TestA fails the same test again here\n")
	if _, err := loadKnown(path, true); err == nil {
		t.Fatal("a test listed for every run and for clusters was accepted")
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// The trace serve-peer --trace writes is a Go execution trace that go tool
// trace reads: it starts with the trace header.
func TestStartTraceWritesATrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broker.trace")
	stop, err := startTrace(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
	stop()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("go 1.")) || !bytes.Contains(b[:16], []byte(" trace")) {
		t.Fatalf("not a Go execution trace: %q", b[:min(len(b), 16)])
	}
}

func TestRaiseProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	t.Setenv("GOMAXPROCS", "")
	raiseProcs()
	if got := runtime.GOMAXPROCS(0); got != minBrokerProcs {
		t.Fatalf("GOMAXPROCS %d after raiseProcs from 1, want %d", got, minBrokerProcs)
	}
	// An operator's GOMAXPROCS wins.
	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	raiseProcs()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS %d with GOMAXPROCS=1 set, want 1", got)
	}
}

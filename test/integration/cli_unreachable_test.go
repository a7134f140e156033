package integration

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestCLIUnreachable checks that every client command fails within a few
// seconds, with one line naming the problem, when no broker listens.
func TestCLIUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	for _, args := range [][]string{
		{"topic", "list"}, {"topic", "create", "x"}, {"topic", "describe", "x"}, {"topic", "delete", "x"},
		{"topic", "add-partitions", "x", "--num", "1"}, {"topic", "alter-config", "x", "--set", "a=b"},
		{"produce", "x"}, {"consume", "x"}, {"cluster", "info"}, {"cluster", "config", "get"},
	} {
		start := time.Now()
		r := runCLI(t, nil, append(args, "--brokers", addr)...)
		msg := strings.TrimSpace(r.stderr)
		if r.code == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, "connection refused") {
			t.Errorf("sluice %v: exit %d, stderr %q; want non-zero and one line about the refused connection", args, r.code, r.stderr)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("sluice %v took %v to fail", args, d)
		}
	}
}

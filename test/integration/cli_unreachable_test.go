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

// TestCLISilentBroker checks that a broker that accepts connections but
// never answers fails every command after --timeout, with one line.
func TestCLISilentBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // never read, never answer
		}
	}()
	for _, args := range [][]string{{"topic", "list"}, {"cluster", "info"}, {"produce", "x"}, {"consume", "x"}} {
		start := time.Now()
		r := runCLI(t, nil, append(args, "--brokers", ln.Addr().String(), "--timeout", "2s")...)
		msg := strings.TrimSpace(r.stderr)
		if r.code == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, "no answer from "+ln.Addr().String()+" within 2s") {
			t.Errorf("sluice %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if d := time.Since(start); d > 6*time.Second {
			t.Errorf("sluice %v took %v with --timeout 2s", args, d)
		}
	}
}

package testcluster

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
)

// FreePorts picks n distinct loopback ports that are free now, below the
// kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by
// default). Nodes keep their ports across restarts, and a port from the
// ephemeral range can meanwhile become the source port of some other
// connection (another cluster's, in parallel tests), so the restart would
// find it taken. Ports are released before use: another process could
// still take one, which fails the start loudly.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	low := ephemeralLow()
	portsMu.Lock()
	defer portsMu.Unlock()
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			t.Fatalf("no free loopback port found below %d after %d tries", low, tries)
		}
		port := 10000 + rand.IntN(low-10000)
		if handedOut[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		handedOut[port] = true
		out = append(out, port)
	}
	return out
}

var (
	portsMu sync.Mutex
	// handedOut are the ports given out in this process: a stopped node's
	// port is free but still its own.
	handedOut = map[int]bool{}
)

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if _, err := fmt.Sscan(string(b), &lo, &hi); err == nil && lo > 11000 {
			low = lo
		}
	}
	return low
}

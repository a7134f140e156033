package integration

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partialClientHello is the start of a TLS record that announces a
// 512-byte ClientHello and then stops: the server has a record header
// and a few handshake bytes and waits for the rest.
func partialClientHello() []byte {
	b := []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	return append(b, random[:20]...)
}

// TestTLSHandshakeFlood: 1,000 connections to the SSL listener at once,
// 800 that never send a byte and 200 that stop inside a ClientHello, do
// not exhaust the broker: a TLS client connects, produces and consumes
// while all of them are still open; the handshake timeout then closes
// every one, and the process's goroutines return to the baseline, so no
// handshake leaves a goroutine behind.
//
// It is not parallel: the goroutine count is the whole test process's.
// File descriptors: 1,000 client ends and 1,000 server ends in this one
// process, far under this box's `ulimit -n` (20,000); the test skips when
// the limit is lower than what it needs.
func TestTLSHandshakeFlood(t *testing.T) {
	const silent, partial = 800, 200
	if lim := fdLimit(); lim > 0 && lim < 2*(silent+partial)+500 {
		t.Skipf("ulimit -n %d is too low for %d connections at both ends", lim, silent+partial)
	}
	ca := newTestCA(t, "ca")
	// The handshake bound is connections.max.idle.ms when it is under
	// 10 s: 4 s leaves the TLS client ample time inside the flood.
	tb := startTLSBroker(t, ca, withProp("connections.max.idle.ms", "4000"))
	addr := tb.ListenerAddr("SSL")
	topic := topicName(t, "")
	adm := newAdmin(t, tb.Addr())
	createTopic(t, adm, topic, 1, nil)
	base := runtime.NumGoroutine()

	conns := make([]net.Conn, silent+partial)
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(conns); i += 8 {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					errs <- fmt.Errorf("dial %d: %w", i, err)
					return
				}
				conns[i] = c
				if i >= silent {
					if _, err := c.Write(partialClientHello()); err != nil {
						errs <- fmt.Errorf("write %d: %w", i, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	if err := <-errs; err != nil {
		t.Fatal(err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(ca.clientTLS(t, nil)), kgo.DialTimeout(5*time.Second),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	produceSync(t, cl, &kgo.Record{Topic: topic, Value: []byte("through the flood")})
	fs := cl.PollRecords(testCtx(t, 10*time.Second), 1)
	if errs := fs.Errors(); len(errs) > 0 || fs.NumRecords() != 1 {
		t.Fatalf("consume during the flood: %v (%d records)", errs, fs.NumRecords())
	}
	cl.Close()
	// The flood was still on: a silent and a partial connection are both
	// open (a read times out rather than ending), so the client above was
	// served alongside them, not after them.
	for _, i := range []int{0, silent} {
		_ = conns[i].SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		var ne net.Error
		if _, err := conns[i].Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("connection %d ended before the TLS client was done (%v): the test proves nothing; raise connections.max.idle.ms", i, err)
		}
	}

	for _, c := range conns {
		expectClosed(t, c)
	}
	waitFor(t, 15*time.Second, "a log line per stuck handshake", func() error {
		if k := strings.Count(tb.logs.tail(1<<23), "TLS handshake failed"); k < silent+partial {
			return fmt.Errorf("%d of %d logged", k, silent+partial)
		}
		return nil
	})
	waitFor(t, 15*time.Second, "goroutines back to the baseline", func() error {
		if n := runtime.NumGoroutine(); n > base+25 {
			return fmt.Errorf("%d goroutines, baseline %d", n, base)
		}
		return nil
	})
}

// fdLimit is this process's soft limit on open files; 0 if unknown.
func fdLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}

package server

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// recordingHandler answers nothing and passes each request on.
type recordingHandler struct{ reqs chan *Request }

func (h *recordingHandler) Supported(key, version int16) bool { return true }

func (h *recordingHandler) Handle(req *Request) Reply {
	h.reqs <- req
	return Ready(&Response{None: true})
}

func startTestServer(t *testing.T, cfg Config) (*Server, *recordingHandler, string) {
	t.Helper()
	h := &recordingHandler{reqs: make(chan *Request, 16)}
	s := New(cfg, h, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return s, h, ln.Addr().String()
}

func poll(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFrameMemoryFollowsBytesReceived: a frame declared at 50 MB of which
// a few bytes arrived costs the first kilobyte buffer, not 50 MB; closing
// the connection returns it.
func TestFrameMemoryFollowsBytesReceived(t *testing.T) {
	s, _, addr := startTestServer(t, Config{})
	const conns = 20
	var ncs []net.Conn
	for range conns {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		prefix := binary.BigEndian.AppendUint32(nil, 50<<20)
		if _, err := nc.Write(append(prefix, 0, 0, 0, 9, 0, 0, 0, 1)); err != nil {
			t.Fatal(err)
		}
		ncs = append(ncs, nc)
	}
	poll(t, "every connection holding its first buffer", func() error {
		if u := s.PoolStats().Used; u != conns<<minFrameClass {
			return fmt.Errorf("%d bytes held, want %d", u, conns<<minFrameClass)
		}
		return nil
	})
	for _, nc := range ncs {
		nc.Close()
	}
	poll(t, "memory back after the connections closed", func() error {
		if u := s.PoolStats().Used; u != 0 {
			return fmt.Errorf("%d bytes still held", u)
		}
		return nil
	})
}

// TestFrameReadInPieces: a request whose bytes trickle in, in pieces of
// every size around the buffer's growth steps, decodes intact, and its
// memory is released once answered.
func TestFrameReadInPieces(t *testing.T) {
	s, h, addr := startTestServer(t, Config{QueuedMaxRequestBytes: 1 << 20})
	frame := produceFrame(1, 300<<10)
	// Produce v9 is flexible: the records are followed by three empty tag
	// sections (partition, topic, request).
	records := frame[len(frame)-3-300<<10 : len(frame)-3]
	for i := range records {
		records[i] = byte(i)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	pieces := []int{3, 1, 6, 1000, 1024, 1025, 4096, 70000, 100000}
	off := 0
	for _, n := range pieces {
		if _, err := nc.Write(frame[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
		time.Sleep(2 * time.Millisecond) // let each piece arrive alone: pacing, not synchronisation
	}
	if _, err := nc.Write(frame[off:]); err != nil {
		t.Fatal(err)
	}
	var req *Request
	select {
	case req = <-h.reqs:
	case <-time.After(10 * time.Second):
		t.Fatal("no request decoded")
	}
	pr := req.Body.(*kmsg.ProduceRequest)
	got := pr.Topics[0].Partitions[0].Records
	if len(got) != 300<<10 || req.Size != int32(len(frame)-4) {
		t.Fatalf("decoded %d record bytes of a %d-byte frame", len(got), req.Size)
	}
	for i := range got {
		if got[i] != byte(i) {
			t.Fatalf("record byte %d: %d, want %d", i, got[i], byte(i))
		}
	}
	poll(t, "memory released after the answer", func() error {
		if u := s.PoolStats().Used; u != 0 {
			return fmt.Errorf("%d bytes still held", u)
		}
		return nil
	})
}

// TestIdleConnectionClosed: with ConnectionsMaxIdle set, a connection that
// sends nothing is closed; one that keeps sending requests is not.
func TestIdleConnectionClosed(t *testing.T) {
	_, h, addr := startTestServer(t, Config{ConnectionsMaxIdle: 100 * time.Millisecond})
	start := time.Now()
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	frame := produceFrame(1, 10)
	closed := make(chan time.Duration, 1)
	go func() {
		var b [1]byte
		idle.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := idle.Read(b[:]); err != nil {
			closed <- time.Since(start)
		}
	}()
	for time.Since(start) < 400*time.Millisecond {
		if _, err := busy.Write(frame); err != nil {
			t.Fatalf("busy connection: %v after %v", err, time.Since(start))
		}
		<-h.reqs
		time.Sleep(30 * time.Millisecond)
	}
	select {
	case d := <-closed:
		if d < 100*time.Millisecond {
			t.Fatalf("idle connection closed after %v, before connections.max.idle", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("idle connection not closed")
	}
	if _, err := busy.Write(frame); err != nil {
		t.Fatalf("busy connection closed: %v", err)
	}
	select {
	case <-h.reqs:
	case <-time.After(5 * time.Second):
		t.Fatal("busy connection's request not served")
	}
}

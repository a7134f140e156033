package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// The loopback floor: what one TCP round trip over loopback costs these
// records at this rate, with no broker behind the socket. Beside the disk
// floor it bounds what any broker on this machine can acknowledge in: a
// durable ack needs at least the round trip and the fdatasync.

// netFloorRequestOverhead approximates what a Produce request adds to one
// record's value when kgo sends it alone (linger 0): the request header,
// topic and partition, the 61-byte batch header and the record's own
// framing. netFloorResponseSize is about a one-partition ProduceResponse.
const (
	netFloorRequestOverhead = 150
	netFloorResponseSize    = 64
)

// NetFloorResult is one loopback floor run.
type NetFloorResult struct {
	Label   string
	Ack     Summary // request written to response read
	Elapsed time.Duration
	Records int64
	// TailReads is how many answers the tailing reader read (tail.go; 0
	// without one).
	TailReads int64
	Err       string
}

// serveNetFloor answers every length-prefixed frame on every connection
// ln accepts with a netFloorResponseSize frame carrying the request's
// correlation id (bytes 4-8 of a Kafka request header), written at once:
// a server that does nothing but read the request and answer. With d, it
// answers each once it is durable instead (durfloor.go).
func serveNetFloor(ln net.Listener, d *durableFloor) error {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			if d != nil {
				d.serveConn(conn)
				return
			}
			defer conn.Close()
			var body []byte
			resp := make([]byte, netFloorResponseSize)
			binary.BigEndian.PutUint32(resp, netFloorResponseSize-4)
			for {
				var err error
				if body, err = readFloorFrame(conn, body); err != nil {
					return
				}
				copy(resp[4:8], body[4:8])
				if _, err := conn.Write(resp); err != nil {
					return
				}
			}
		}()
	}
}

// readFloorFrame reads one length-prefixed request into buf (grown as
// needed) and returns it; at least the 8 bytes of a request header's key,
// version and correlation id, at most 64 MiB.
func readFloorFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n < 8 || n > 64<<20 {
		return buf, fmt.Errorf("floor frame of %d bytes", n)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// startNetFloor runs the loopback floor server (peer "loopback", or
// "loopback-durable" for the durable one): as its own process pinned like
// the broker when c.Spawn, else in this process.
func startNetFloor(c *Config, peer string) (*running, error) {
	if c.Spawn {
		pc := *c
		pc.Trace = "" // the broker's trace file is not the echo server's
		return Target{Name: peer, peer: peer}.startProcess(&pc, nil)
	}
	return listenNetFloor(peer, c.DataDir, int(c.Partitions))
}

// listenNetFloor serves the floor peer on a loopback port in this process.
func listenNetFloor(peer, parent string, partitions int) (*running, error) {
	var d *durableFloor
	var dir string
	if peer == DurablePeer {
		var err error
		if dir, err = os.MkdirTemp(parent, "sluice-bench-durable-floor-"); err != nil {
			return nil, err
		}
		if d, err = openDurableFloor(dir, partitions); err != nil {
			return nil, errors.Join(err, os.RemoveAll(dir))
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- serveNetFloor(ln, d) }()
	return &running{seeds: []string{ln.Addr().String()}, close: func() error {
		err := errors.Join(ln.Close(), <-done)
		if d != nil {
			err = errors.Join(err, d.close(), os.RemoveAll(dir))
		}
		return err
	}}, nil
}

// runNetFloor sends rate frames/s for d over one connection to addr, each
// the size of the Produce request kgo sends for one record of size bytes,
// pipelined without limit, and times each from its write to its response.
// It measures the loopback round trip, the kernel and both ends' Go
// runtimes at this load; not Kafka's protocol work nor kgo's (kgo may also
// put several records in one request when one is in flight).
//
// Request n carries partitionOf(n) after its correlation id (bytes 8-12 of
// the request), for the durable floor's server to append it there. With
// tail (the durable floor only) a tailing reader runs beside the sender
// for the whole run (tail.go), as the latency phase's consumer does.
func runNetFloor(ctx context.Context, addr string, rate, size int, d time.Duration, partitionOf func(n int64) int, tail bool) (res NetFloorResult, err error) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	if tail {
		stop := tailFor(ctx, addr)
		defer func() {
			n, terr := stop()
			res.TailReads = n
			if err == nil && terr != nil {
				err = fmt.Errorf("tailing reader: %w", terr)
			}
		}()
	}

	// Responses come back in request order on one connection, so the
	// reader matches them to send times first in, first out.
	var (
		mu    sync.Mutex
		sent  []time.Time
		ack   Hist
		acked int64
	)
	readErr := make(chan error, 1)
	total := int64(float64(rate) * d.Seconds())
	go func() {
		var resp [netFloorResponseSize]byte
		for acked < total {
			if _, err := io.ReadFull(conn, resp[:]); err != nil {
				readErr <- err
				return
			}
			now := time.Now()
			mu.Lock()
			at := sent[0]
			sent = sent[1:]
			mu.Unlock()
			ack.RecordDuration(now.Sub(at))
			acked++
		}
		readErr <- nil
	}()

	frame := make([]byte, 4+size+netFloorRequestOverhead)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	interval := float64(time.Second) / float64(rate)
	start := time.Now()
	var n int64
	for n < total && ctx.Err() == nil {
		due := min(total, int64(float64(time.Since(start))/interval)+1)
		for ; n < due; n++ {
			binary.BigEndian.PutUint32(frame[8:12], uint32(n))
			binary.BigEndian.PutUint32(frame[12:16], uint32(partitionOf(n)))
			mu.Lock()
			sent = append(sent, time.Now())
			mu.Unlock()
			if _, err := conn.Write(frame); err != nil {
				return res, err
			}
		}
		if w := time.Until(start.Add(time.Duration(float64(n) * interval))); w > 0 {
			time.Sleep(w)
		}
	}
	res.Elapsed = time.Since(start)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n < total {
		// ctx ended: the reader waits for responses never asked for.
		_ = conn.Close()
	}
	err = <-readErr
	res.Records = acked
	res.Ack = ack.Summarize()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, err
}

// netFloorName is how the report names the floor a peer serves.
func netFloorName(peer string, tail bool) string {
	switch {
	case peer == DurablePeer && tail:
		return "durable loopback floor + tailing reader"
	case peer == DurablePeer:
		return "durable loopback floor"
	}
	return "loopback floor"
}

// DurablePeer is the serve-peer kind of the durable loopback floor.
const DurablePeer = "loopback-durable"

// ServeNetFloor runs a loopback floor server (peer "loopback" or
// "loopback-durable", files under parent) until ctx ends, after printing
// "listening host:port" on out.
func ServeNetFloor(ctx context.Context, peer, parent string, partitions int, out io.Writer) error {
	rt, err := listenNetFloor(peer, parent, partitions)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(out, "%s%s\n", listeningPrefix, rt.seeds[0]); err != nil {
		return errors.Join(err, rt.close())
	}
	<-ctx.Done()
	return rt.close()
}

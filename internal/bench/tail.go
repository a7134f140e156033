package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// The durable floor's tailing reader: the least a tailing consumer costs.
// The latency phase runs a consumer beside its producer, and each time the
// HW moves the broker answers that consumer's parked fetch with the new
// records and reads its next fetch, on the broker's core, while the
// consumer's client works on the load generator's. A floor without it
// compares the broker and its consumer with a server that has no reader.
// With a reader, the floor's server answers a parked read at every
// fdatasync with the bytes it made durable, and the client asks again at
// once: one write and one read per advance on each side, no protocol, no
// records decoded.
//
// A reader's frames carry API key 1 (Fetch) where the producer's carry 0;
// the request's bytes 8-16 are how many bytes it has seen. The answer is a
// frame of its correlation id, the bytes durable so far (8 bytes) and as
// many bytes as were made durable since, up to tailMaxBytes.

const tailMaxBytes = 1 << 20

// isTailFrame reports whether a floor request comes from a tailing reader.
func isTailFrame(body []byte) bool {
	return len(body) >= 16 && binary.BigEndian.Uint16(body[0:2]) == 1
}

// advance records n more durable bytes and wakes the parked readers.
func (d *durableFloor) advance(n int64) {
	d.durMu.Lock()
	d.durable += n
	close(d.advanced)
	d.advanced = make(chan struct{})
	d.durMu.Unlock()
}

// serveTail answers a tailing reader's requests, first the one already
// read, each once more bytes are durable than it has seen.
func (d *durableFloor) serveTail(conn net.Conn, body []byte) {
	defer conn.Close()
	out := make([]byte, 16, 16+tailMaxBytes)
	for {
		dur, ok := d.waitDurable(int64(binary.BigEndian.Uint64(body[8:16])))
		if !ok {
			return
		}
		n := min(dur-int64(binary.BigEndian.Uint64(body[8:16])), tailMaxBytes)
		out = out[:16+n]
		binary.BigEndian.PutUint32(out[0:4], uint32(len(out)-4))
		copy(out[4:8], body[4:8])
		binary.BigEndian.PutUint64(out[8:16], uint64(dur))
		if _, err := conn.Write(out); err != nil {
			return
		}
		var err error
		if body, err = readFloorFrame(conn, body); err != nil || !isTailFrame(body) {
			return
		}
	}
}

// waitDurable waits until more than seen bytes are durable and returns
// how many are; false once the floor closes.
func (d *durableFloor) waitDurable(seen int64) (int64, bool) {
	for {
		d.durMu.Lock()
		dur, ch := d.durable, d.advanced
		d.durMu.Unlock()
		if dur > seen {
			return dur, true
		}
		select {
		case <-ch:
		case <-d.done:
			return 0, false
		}
	}
}

// runTailReader tails a durable floor at addr until ctx ends, asking again
// as soon as each answer is in; it returns the answers it read.
func runTailReader(ctx context.Context, addr string) (int64, error) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	req := make([]byte, 4+16)
	binary.BigEndian.PutUint32(req[0:4], 16)
	binary.BigEndian.PutUint16(req[4:6], 1)
	var buf []byte
	var seen, answers int64
	for ctx.Err() == nil {
		binary.BigEndian.PutUint32(req[8:12], uint32(answers))
		binary.BigEndian.PutUint64(req[12:20], uint64(seen))
		if _, err = conn.Write(req); err != nil {
			break
		}
		if buf, err = readFloorFrame(conn, buf); err != nil {
			break
		}
		if len(buf) < 12 {
			return answers, fmt.Errorf("tail answer of %d bytes", len(buf))
		}
		seen = int64(binary.BigEndian.Uint64(buf[4:12]))
		answers++
	}
	if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return answers, nil
	}
	return answers, err
}

// tailFor runs a tailing reader against addr while the returned stop has
// not been called; stop returns how many answers it read.
func tailFor(ctx context.Context, addr string) (stop func() (int64, error)) {
	ctx, cancel := context.WithCancel(ctx)
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := runTailReader(ctx, addr)
		done <- result{n, err}
	}()
	return func() (int64, error) {
		cancel()
		r := <-done
		return r.n, r.err
	}
}

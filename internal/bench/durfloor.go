package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	sluicelog "github.com/sluice-io/sluice/internal/log"
)

// The durable loopback floor: the loopback floor's server, but each
// request is appended to one of the partitions' files and answered only
// once an fdatasync covers it, in request order (as Kafka answers a
// connection's requests). It is the smallest durable broker: no protocol,
// no index, no producer state, one write and one fdatasync per group of
// requests per file, placed and loaded like the broker. Unlike the disk
// floor (which runs in the bench process with the rest of the machine
// idle) it meets whatever the machine does to an fdatasync while a client
// on the other CPU keeps a socket busy: on this VM, a stall of 7-12 ms
// every 100 ms that a lone fsync loop on one CPU does not see
// (docs/BENCHMARKS.md). Its percentiles bound what a durable broker can
// acknowledge in at this load, here, from below.

// durableFloor is one file per partition, each with a group-commit
// flusher: everything that arrived while the last fdatasync ran is
// written in one write and covered by the next fdatasync.
type durableFloor struct {
	files []*floorFile
	done  chan struct{}
	wg    sync.WaitGroup

	// What tailing readers wait for (tail.go): the bytes made durable
	// so far over all files, and a channel closed at each advance.
	durMu    sync.Mutex
	durable  int64
	advanced chan struct{}
}

type floorFile struct {
	d    *durableFloor
	f    *os.File
	wake chan struct{}

	mu      sync.Mutex
	pending []floorWrite
	err     error
}

// floorWrite is one request's bytes and the channel closed once an
// fdatasync covers them (after its error, if any, is set on the file).
type floorWrite struct {
	n    int
	done chan struct{}
}

func openDurableFloor(dir string, partitions int) (*durableFloor, error) {
	d := &durableFloor{done: make(chan struct{}), advanced: make(chan struct{})}
	for i := range max(partitions, 1) {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("p%d.log", i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, errors.Join(err, d.close())
		}
		x := &floorFile{d: d, f: f, wake: make(chan struct{}, 1)}
		d.files = append(d.files, x)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			x.flush(d.done)
		}()
	}
	return d, nil
}

// append queues n bytes for partition p; the returned channel closes once
// they are durable.
func (d *durableFloor) append(p, n int) <-chan struct{} {
	x := d.files[p%len(d.files)]
	w := floorWrite{n: n, done: make(chan struct{})}
	x.mu.Lock()
	x.pending = append(x.pending, w)
	x.mu.Unlock()
	select {
	case x.wake <- struct{}{}:
	default:
	}
	return w.done
}

func (x *floorFile) flush(stop <-chan struct{}) {
	var buf []byte
	var batch []floorWrite
	for {
		select {
		case <-x.wake:
		case <-stop:
			return
		}
		x.mu.Lock()
		batch, x.pending = x.pending, batch[:0]
		x.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		total := 0
		for _, w := range batch {
			total += w.n
		}
		if cap(buf) < total {
			buf = make([]byte, total)
		}
		_, err := x.f.Write(buf[:total])
		if err == nil {
			err = sluicelog.DataSync(x.f)
		}
		if err != nil {
			x.mu.Lock()
			x.err = err
			x.mu.Unlock()
		} else {
			x.d.advance(int64(total))
		}
		for _, w := range batch {
			close(w.done)
		}
		if err != nil {
			return // the connection sees the error and closes
		}
	}
}

func (d *durableFloor) failed() error {
	for _, x := range d.files {
		x.mu.Lock()
		err := x.err
		x.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *durableFloor) close() error {
	close(d.done)
	d.wg.Wait()
	var err error
	for _, x := range d.files {
		err = errors.Join(err, x.f.Close())
	}
	return err
}

// serveDurableConn answers conn's requests as serveNetFloor does, each
// after it is durable: request n (the correlation id the floor's client
// numbers from 0) goes to the partition the client wrote after the
// correlation id (runNetFloor), as the latency phase spreads its records. A reader appends and queues; the writer
// answers in order, coalescing the answers that are ready at once.
func (d *durableFloor) serveConn(conn net.Conn) {
	type answer struct {
		corr [4]byte
		done <-chan struct{}
	}
	queue := make(chan answer, 1<<16)
	first, err := readFloorFrame(conn, nil)
	if err != nil {
		conn.Close()
		return
	}
	if isTailFrame(first) {
		d.serveTail(conn, first)
		return
	}
	go func() {
		defer close(queue)
		body := first
		for again := false; ; again = true {
			if again {
				var err error
				if body, err = readFloorFrame(conn, body); err != nil {
					return
				}
			}
			n := len(body)
			var a answer
			copy(a.corr[:], body[4:8])
			part := 0
			if n >= 12 {
				part = int(binary.BigEndian.Uint32(body[8:12]))
			}
			a.done = d.append(part, max(n-netFloorRequestOverhead, 1))
			queue <- a
		}
	}()
	defer conn.Close()
	var out []byte
	var held *answer // taken from the queue but not yet durable
	for {
		var a answer
		if held != nil {
			a, held = *held, nil
		} else {
			var ok bool
			if a, ok = <-queue; !ok {
				return
			}
		}
		<-a.done
		out = appendFloorResponse(out[:0], a.corr)
		// Answers already durable go in the same write; the first that
		// is not waits for the next round, so none waits for a later one.
	more:
		for {
			select {
			case b, ok := <-queue:
				if !ok {
					break more
				}
				select {
				case <-b.done:
					out = appendFloorResponse(out, b.corr)
				default:
					held = &b
					break more
				}
			default:
				break more
			}
		}
		if d.failed() != nil {
			return
		}
		if _, err := conn.Write(out); err != nil {
			return
		}
	}
}

func appendFloorResponse(out []byte, corr [4]byte) []byte {
	var resp [netFloorResponseSize]byte
	binary.BigEndian.PutUint32(resp[:], netFloorResponseSize-4)
	copy(resp[4:8], corr[:])
	return append(out, resp[:]...)
}

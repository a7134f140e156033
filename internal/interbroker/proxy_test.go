package interbroker_test

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// proxy is a TCP proxy in front of a real broker. It counts the
// connections it accepts, can swallow the broker's answers (a stuck
// peer), and can play an older broker that answers ApiVersions above a
// version with UNSUPPORTED_VERSION, as Kafka does, forwarding all else.
type proxy struct {
	ln      net.Listener
	target  string
	accepts atomic.Int32
	swallow atomic.Bool

	maxApiVersions int16 // -1: forward every ApiVersions

	mu         sync.Mutex
	seenApiVer []int16
	conns      []net.Conn
}

func startProxy(t *testing.T, target string, maxApiVersions int16) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, maxApiVersions: maxApiVersions}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.accepts.Add(1)
			b, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			var wmu sync.Mutex // the client side is written by both pumps
			wg.Add(2)
			go func() { defer wg.Done(); p.toBroker(c, b, &wmu) }()
			go func() { defer wg.Done(); p.toClient(b, c, &wmu) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) apiVersionsSeen() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.seenApiVer...)
}

// toBroker forwards request frames, answering too-new ApiVersions itself.
func (p *proxy) toBroker(c, b net.Conn, wmu *sync.Mutex) {
	defer b.Close()
	defer c.Close()
	for {
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return
		}
		frame := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(c, frame); err != nil {
			return
		}
		key, version := int16(binary.BigEndian.Uint16(frame)), int16(binary.BigEndian.Uint16(frame[2:]))
		if key == 18 {
			p.mu.Lock()
			p.seenApiVer = append(p.seenApiVer, version)
			p.mu.Unlock()
			if p.maxApiVersions >= 0 && version > p.maxApiVersions {
				resp := kmsg.NewPtrApiVersionsResponse()
				resp.ErrorCode = kerr.UnsupportedVersion.Code
				body := resp.AppendTo(frame[4:8:8]) // correlation id, then a v0 body
				out := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
				wmu.Lock()
				_, err := c.Write(append(out, body...))
				wmu.Unlock()
				if err != nil {
					return
				}
				continue
			}
		}
		if _, err := b.Write(append(size[:], frame...)); err != nil {
			return
		}
	}
}

// toClient forwards the broker's bytes, or drops them while swallowing.
func (p *proxy) toClient(b, c net.Conn, wmu *sync.Mutex) {
	defer c.Close()
	defer b.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := b.Read(buf)
		if n > 0 && !p.swallow.Load() {
			wmu.Lock()
			_, werr := c.Write(buf[:n])
			wmu.Unlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

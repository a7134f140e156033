package server

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// countingHandler answers every request with nothing (as Produce with
// acks=0 is answered) and counts them.
type countingHandler struct {
	n    atomic.Int64
	done chan struct{}
	want int64
}

func (h *countingHandler) Supported(key, version int16) bool { return true }

func (h *countingHandler) Handle(req *Request) Reply {
	if h.n.Add(1) == h.want {
		close(h.done)
	}
	return Ready(&Response{None: true})
}

// produceFrame is one framed Produce v9 request (acks=0) carrying
// partitions record sets of batchBytes each.
func produceFrame(partitions, batchBytes int) []byte {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = 0
	t := kmsg.NewProduceRequestTopic()
	t.Topic = "bench"
	for p := range partitions {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = int32(p)
		rp.Records = make([]byte, batchBytes)
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	b := make([]byte, 4, 16+partitions*batchBytes)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, 9)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, 5)
	b = append(b, "bench"...)
	b = append(b, 0) // header tags
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// BenchmarkReadRequests pushes Produce requests through a connection's
// read loop over loopback TCP: framing, header, kmsg decode and the
// handler hand-off, without a log behind it.
func BenchmarkReadRequests(b *testing.B) {
	for _, c := range []struct {
		name              string
		partitions, bytes int
	}{
		{"3x1MiB", 3, 1 << 20},
		{"3x16KiB", 3, 16 << 10},
		{"1x1KiB", 1, 1 << 10},
	} {
		b.Run(c.name, func(b *testing.B) {
			frame := produceFrame(c.partitions, c.bytes)
			h := &countingHandler{done: make(chan struct{})}
			s := New(Config{MaxInFlight: 5}, h, slog.New(slog.DiscardHandler))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go s.Serve(ln)
			defer s.Close()
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			b.ResetTimer()
			h.want = int64(b.N)
			go func() {
				for i := 0; i < b.N; i++ {
					if _, err := nc.Write(frame); err != nil {
						return
					}
				}
			}()
			<-h.done
			b.StopTimer()
			_ = io.Closer(nc).Close()
		})
	}
}

// BenchmarkEncodeFetch is fetch assembly: kmsg encodes a Fetch response
// whose record fields are 16-byte markers, and encode swaps each marker
// for its file ranges' length prefix (the bytes themselves go out with
// sendfile, not measured here).
func BenchmarkEncodeFetch(b *testing.B) {
	for _, parts := range []int{3, 100} {
		b.Run(fmt.Sprintf("%dpartitions", parts), func(b *testing.B) {
			resp := kmsg.NewPtrFetchResponse()
			resp.Version = 12
			t := kmsg.NewFetchResponseTopic()
			t.Topic = "bench"
			var splices []Splice
			for p := range parts {
				marker := binary.BigEndian.AppendUint64([]byte("sluice-m"), uint64(p))
				rp := kmsg.NewFetchResponseTopicPartition()
				rp.Partition = int32(p)
				rp.HighWatermark = 1 << 20
				rp.RecordBatches = marker
				t.Partitions = append(t.Partitions, rp)
				splices = append(splices, Splice{Marker: marker, Parts: []FilePart{{Pos: 4096, Len: 1 << 20}}})
			}
			resp.Topics = append(resp.Topics, t)
			req := &Request{Key: 1, Version: 12, CorrelationID: 9}
			r := &Response{Msg: resp, Splices: splices}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := encode(req, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

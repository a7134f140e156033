package integration

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/record/bombtest"
)

// kafkaMessageMaxBytes is Kafka's default message.max.bytes, which the
// test broker keeps.
const kafkaMessageMaxBytes = 1048588

// TestDecompressionBombs: a compressed batch that claims, or really holds,
// more than its records can legitimately inflate to is refused with
// INVALID_RECORD in every codec (not the retriable CORRUPT_MESSAGE, which
// clients would resend; docs/RELIABILITY.md section 2), nothing of it is
// written, and refusing it costs memory bounded by the batch's limit, not
// by its claims: with 20 connections sending bombs at once, the broker's
// heap stays within a few limits (one per inflation slot), and it gives the
// memory back afterwards. Compressed produce and consume with franz-go work
// in every codec afterwards.
func TestDecompressionBombs(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	cl := newClient(t, tb.Addr())
	end := func() int64 {
		off, _, code := listOffset(t, cl, topic, 0, tsLatest)
		if code != 0 {
			t.Fatalf("list offsets: %v", kerr.ErrorForCode(code))
		}
		return off
	}
	refused := []int16{kerr.InvalidRecord.Code}

	// Every bomb, one record each (a limit of one record's allowance) and
	// claiming a billion records (MaxExpansion allowances), one at a time.
	rc := dialRaw(t, tb.Addr())
	corr := int32(0)
	for _, n := range []int32{1, 1 << 30} {
		for _, b := range sendableBombs(record.InflateLimit(kafkaMessageMaxBytes, n), false) {
			corr++
			start := time.Now()
			code, _ := rawProduce(t, rc, corr, topic, bombBatch(b.Codec, n, b.Data))
			if !codeIn(code, refused) {
				t.Errorf("%s bomb (%d bytes, %d records): error %v, want INVALID_RECORD", b.Name, len(b.Data), n, kerr.ErrorForCode(code))
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("%s bomb (%d records): refused after %v", b.Name, n, took)
			}
		}
	}
	if e := end(); e != 0 {
		t.Fatalf("log end offset %d after bombs only, want 0", e)
	}

	// 20 connections at once, each sending bombs that really inflate to the
	// largest limit a batch can have.
	const conns, rounds = 20, 2
	maxLimit := record.InflateLimit(kafkaMessageMaxBytes, 1<<30)
	var batches [][]byte
	for _, b := range sendableBombs(maxLimit, true) {
		batches = append(batches, bombBatch(b.Codec, 1<<30, b.Data))
	}
	baseline := settledHeap()
	var peak heapPeak
	stop := peak.sample()
	allocBefore := totalAlloc()
	errs := make(chan error, conns*rounds)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", tb.Addr(), 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for r := range rounds {
				batch := batches[(i+r)%len(batches)]
				code, err := produceOn(c, int32(r+1), topic, batch)
				if err == nil && !codeIn(code, refused) {
					err = fmt.Errorf("connection %d: error %v, want INVALID_RECORD", i, kerr.ErrorForCode(code))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	stop()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	allocated := totalAlloc() - allocBefore

	// While inflating, a slot holds its output (growing by doubling to
	// limit+1, so up to 1.5 limits during the last copy) and decoder state
	// (lz4 blocks or a zstd window, under 16 MiB); garbage from finished
	// bombs waits for the GC, whose goal is twice the live heap. So the heap
	// may reach about twice the slots' share; one limit per connection
	// would be several times that.
	slots := uint64(record.InflateSlots())
	perSlot := uint64(2*maxLimit) + 16<<20
	if bound := baseline + 2*slots*perSlot + 64<<20; peak.max() > bound {
		t.Errorf("heap peaked at %d MiB with %d connections sending bombs (baseline %d MiB, bound %d MiB for %d inflation slots)",
			peak.max()>>20, conns, baseline>>20, bound>>20, slots)
	}
	if per, bound := allocated/(conns*rounds), perSlot+uint64(maxLimit); per > bound {
		t.Errorf("allocated %d MiB per bomb, bound %d MiB", per>>20, bound>>20)
	}
	t.Logf("%d bombs from %d connections: heap baseline %d MiB, peak %d MiB, %d MiB allocated per bomb (limit %d MiB, %d slots)",
		conns*rounds, conns, baseline>>20, peak.max()>>20, allocated/(conns*rounds)>>20, maxLimit>>20, slots)

	// Nothing is kept: pooled buffers are dropped within two GCs.
	if after := settledHeap(); after > baseline+64<<20 {
		t.Errorf("heap %d MiB after the bombs, baseline %d MiB: decompression memory is being held", after>>20, baseline>>20)
	}
	if e := end(); e != 0 {
		t.Fatalf("log end offset %d after bombs only, want 0", e)
	}

	// Ordinary compressed batches, including a highly compressible one,
	// still go through in every codec and read back intact.
	codecs := map[string]kgo.CompressionCodec{
		"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		topic := topicName(t, name)
		createTopic(t, adm, topic, 1, nil)
		pcl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec))
		var want []string
		var rs []*kgo.Record
		for i := range 200 {
			v := fmt.Sprintf("record %d of an ordinary %s batch", i, name)
			if i%50 == 0 {
				v += string(bytes.Repeat([]byte{'z'}, 100<<10)) // 100 KiB that compresses to almost nothing
			}
			want = append(want, v)
			rs = append(rs, kgo.StringRecord(v))
		}
		produceSync(t, pcl, rs...)
		got := consumeAll(t, tb.Addr(), topic)[0]
		if len(got) != len(want) {
			t.Fatalf("%s: consumed %d records, want %d", name, len(got), len(want))
		}
		for i, r := range got {
			if string(r.Value) != want[i] {
				t.Fatalf("%s: record %d differs (%d bytes, want %d)", name, i, len(r.Value), len(want[i]))
			}
		}
	}
}

// sendableBombs are the bombs built for limit whose batch fits
// max.message.bytes (a larger one is refused as MESSAGE_TOO_LARGE before it
// is inflated); with realOnly, only those that truly inflate past limit.
func sendableBombs(limit int, realOnly bool) []bombtest.Bomb {
	var out []bombtest.Bomb
	for _, b := range bombtest.All(limit) {
		if record.HeaderSize+len(b.Data) <= kafkaMessageMaxBytes && (b.Real || !realOnly) {
			out = append(out, b)
		}
	}
	return out
}

// bombBatch wraps a compressed records section in a v2 batch header
// claiming n records, with a valid CRC: the broker must open it to know.
func bombBatch(codec int, n int32, payload []byte) []byte {
	now := time.Now().UnixMilli()
	rb := kmsg.RecordBatch{
		Length:               int32(49 + len(payload)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(codec),
		LastOffsetDelta:      n - 1,
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           n,
		Records:              payload,
	}
	b := rb.AppendTo(nil)
	setBatchCRC(b)
	return b
}

// produceOn sends batch to partition 0 of topic as a Produce v9 request on c
// and returns the partition's error code. Unlike rawConn it reports
// failures as errors, so it can run off the test goroutine.
func produceOn(c net.Conn, corr int32, topic string, batch []byte) (int16, error) {
	req := produceRequest(9, topic, batch, 10000)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write(encodeRequest(corr, req)); err != nil {
		return 0, err
	}
	frame, err := (&rawConn{c: c}).readFrame(60 * time.Second)
	if err != nil {
		return 0, err
	}
	got, kresp, err := decodeResponse(frame, req)
	if err != nil {
		return 0, err
	}
	resp := kresp.(*kmsg.ProduceResponse)
	if got != corr || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("unexpected produce response (correlation id %d, want %d): %+v", got, corr, resp.Topics)
	}
	return resp.Topics[0].Partitions[0].ErrorCode, nil
}

// heapPeak records the largest heap (live and not yet collected objects,
// HeapAlloc) seen while sampling. The broker runs in this process, so this
// is its heap.
type heapPeak struct {
	mu   sync.Mutex
	peak uint64
}

// sample polls the heap every millisecond until the returned stop is called.
func (p *heapPeak) sample() (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			p.observe(heapObjects())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func (p *heapPeak) observe(v uint64) {
	p.mu.Lock()
	p.peak = max(p.peak, v)
	p.mu.Unlock()
}

func (p *heapPeak) max() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// settledHeap is the heap after two collections, which also empty every
// sync.Pool (a pooled object survives one GC in the victim cache).
func settledHeap() uint64 {
	runtime.GC()
	runtime.GC()
	return heapObjects()
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

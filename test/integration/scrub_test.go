package integration

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Silent corruption at rest (docs/RELIABILITY.md, 5): a bit flipped in a
// closed segment of a running broker is found by the scrubber, logged
// once, counted, reported by DescribeLogDirs, refused to fetches, and
// found by `sluice log verify`.

// batchAt returns the file position, base offset and size of the n-th
// batch (from 0) of a segment file, from the batch headers.
func batchAt(t *testing.T, b []byte, n int) (pos, base, size int64) {
	t.Helper()
	for i := 0; ; i++ {
		if pos+12 > int64(len(b)) {
			t.Fatalf("segment has %d batches, want batch %d", i, n)
		}
		base = int64(binary.BigEndian.Uint64(b[pos:]))
		size = 12 + int64(binary.BigEndian.Uint32(b[pos+8:]))
		if i == n {
			return pos, base, size
		}
		pos += size
	}
}

func TestScrubberFindsFlippedBit(t *testing.T) {
	tb := startBroker(t, withProp("log.scrub.interval.ms", "20"), withProp("log.scrub.bytes.per.second", "104857600"),
		withProp("metrics.listener", "http://127.0.0.1:0"))
	adm := newAdmin(t, tb.Addr())
	topic, clean := topicName(t, "bad"), topicName(t, "clean")
	for _, name := range []string{topic, clean} {
		createTopic(t, adm, name, 1, map[string]*string{"segment.bytes": kadm.StringPtr("8192")})
	}
	cl := newClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := range 30 {
		for _, name := range []string{topic, clean} {
			produceSync(t, cl, &kgo.Record{Topic: name, Value: testValue(i, 1000)})
		}
	}
	data := tb.props["log.dirs"]
	seg := filepath.Join(data, topic+"-0", "00000000000000000000.log")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	// A bit in the value of the third batch of the first (closed) segment.
	pos, bad, size := batchAt(t, b, 2)
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	flip := pos + size - 100
	if _, err := f.WriteAt([]byte{b[flip] ^ 0x04}, flip); err != nil {
		t.Fatal(err)
	}
	f.Close()

	series := `topic="` + topic + `"`
	waitFor(t, 20*time.Second, "the scrubber to count the damaged batch", func() error {
		if v := brokerMetric(t, tb, "sluice_log_corrupt_batches_total", series); v != 1 {
			return fmt.Errorf("sluice_log_corrupt_batches_total{%s} = %v", series, v)
		}
		return nil
	})
	if err := logDirErr(t, adm); !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("DescribeLogDirs error %v, want KAFKA_STORAGE_ERROR", err)
	}

	// Fetches get the batches before the damage, and an error at it
	// instead of the bad bytes; after it, reads work.
	id := topicID(t, cl, topic)
	fp := fetchPartition(t, cl, fetchReq(topic, id, 0, 0, 1<<20, 1<<20, 1, 100))
	if fp.ErrorCode != 0 {
		t.Fatalf("fetch from 0: error %d", fp.ErrorCode)
	}
	if got := parseBatches(t, fp.RecordBatches); len(got) != int(bad) || got[len(got)-1].FirstOffset != bad-1 {
		t.Fatalf("fetch from 0 returned %d batches, want the %d before the damaged one", len(got), bad)
	}
	fp = fetchPartition(t, cl, fetchReq(topic, id, 0, bad, 1<<20, 1<<20, 1, 100))
	if fp.ErrorCode != kerr.KafkaStorageError.Code || len(fp.RecordBatches) != 0 {
		t.Fatalf("fetch at the damaged batch: error %d, %d bytes; want KAFKA_STORAGE_ERROR and none", fp.ErrorCode, len(fp.RecordBatches))
	}
	if fp = fetchPartition(t, cl, fetchReq(topic, id, 0, bad+1, 1<<20, 1<<20, 1, 100)); fp.ErrorCode != 0 || len(fp.RecordBatches) == 0 {
		t.Fatalf("fetch after the damaged batch: error %d, %d bytes", fp.ErrorCode, len(fp.RecordBatches))
	}

	// Logged once, however many passes found it.
	passes := brokerMetric(t, tb, "sluice_log_scrub_passes_total")
	waitFor(t, 20*time.Second, "three more scrubber passes", func() error {
		if v := brokerMetric(t, tb, "sluice_log_scrub_passes_total"); v < passes+3 {
			return fmt.Errorf("%v passes", v)
		}
		return nil
	})
	if n := strings.Count(tb.logs.tail(1<<30), "corrupt batch in a closed segment"); n != 1 {
		t.Fatalf("%d log lines for the damaged batch, want 1", n)
	}

	// The offline check finds it too, with its file and offsets.
	r := runCLI(t, nil, "log", "verify", data)
	if r.code == 0 || !strings.Contains(r.stdout, seg+": DAMAGED") || !strings.Contains(r.stdout, fmt.Sprintf("offsets %d-%d", bad, bad)) ||
		!strings.Contains(r.stdout, "CRC-32C mismatch") || !strings.Contains(r.stderr, "1 damaged batch") {
		t.Fatalf("sluice log verify %s: exit %d\n%s%s", data, r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, nil, "log", "verify", filepath.Join(data, clean+"-0")); r.code != 0 || !strings.Contains(r.stdout, "0 damaged") {
		t.Fatalf("sluice log verify of the clean partition: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The way out: delete the records up to past the damage.
	if _, err := adm.DeleteRecords(testCtx(t, 10*time.Second), kadm.Offsets{topic: {0: {At: bad + 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := logDirErr(t, adm); err != nil {
		t.Fatalf("DescribeLogDirs after deleting the damaged records: %v", err)
	}
}

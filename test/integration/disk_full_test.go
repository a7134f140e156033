package integration

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/log"
)

// Disk full and I/O errors (docs/RELIABILITY.md, 4): a failed write or
// fsync answers KAFKA_STORAGE_ERROR at once, takes the log directory
// offline (DescribeLogDirs, metrics), and the directory comes back by
// itself once writes succeed, with every acknowledged record intact.

// mountTmpfs mounts a tmpfs of size on a fresh directory, unmounted at the
// end of the test (after the broker, which is started later, closed). It
// skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a %s tmpfs to fill up (needs root and mount(8)): %v: %s", size, err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file into dir until leave bytes are free, and returns
// its path.
func fillDisk(t *testing.T, dir string, leave int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	n := int64(st.Bavail)*int64(st.Bsize) - leave
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for n > 0 {
		w, err := f.Write(chunk[:min(n, int64(len(chunk)))])
		if err != nil {
			t.Fatalf("fill %s: %v", path, err)
		}
		n -= int64(w)
	}
	return path
}

// testValue is record i's value: size bytes naming i, so a consumed value
// tells which record it is and whether it is intact.
func testValue(i, size int) []byte {
	tag := fmt.Sprintf("record-%06d;", i)
	return bytes.Repeat([]byte(tag), size/len(tag)+1)[:size]
}

// acked is what a produce acknowledged.
type acked struct {
	offset int64
	value  []byte
}

// produceOne produces value to partition 0 of the client's default topic
// and returns its offset, the error and how long the answer took.
func produceOne(t *testing.T, cl *kgo.Client, value []byte) (int64, error, time.Duration) {
	t.Helper()
	r := &kgo.Record{Value: value, Partition: 0}
	start := time.Now()
	err := cl.ProduceSync(testCtx(t, 20*time.Second), r).FirstErr()
	return r.Offset, err, time.Since(start)
}

// storageErrorClient produces to topic with no retries, so a
// KAFKA_STORAGE_ERROR (retriable for Kafka clients) reaches the test as it
// left the broker instead of being retried into a timeout. Batches are not
// compressed: the test's values are repetitive and must fill the disk.
func storageErrorClient(t *testing.T, addr, topic string) *kgo.Client {
	return newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordRetries(0),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
}

// expectStorageError produces once and wants KAFKA_STORAGE_ERROR, answered
// promptly: not a client timeout.
func expectStorageError(t *testing.T, cl *kgo.Client, value []byte) {
	t.Helper()
	_, err, took := produceOne(t, cl, value)
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("produce: %v after %v, want KAFKA_STORAGE_ERROR", err, took)
	}
	if took > 3*time.Second {
		t.Fatalf("KAFKA_STORAGE_ERROR took %v to arrive", took)
	}
}

// waitProduceOK retries a produce until the broker takes it again (the log
// directory's probe heals it within seconds) and returns its ack.
func waitProduceOK(t *testing.T, cl *kgo.Client, value []byte) acked {
	t.Helper()
	var a acked
	waitFor(t, 30*time.Second, "produce accepted again", func() error {
		off, err, _ := produceOne(t, cl, value)
		a = acked{off, value}
		return err
	})
	return a
}

// logDirErr is the error DescribeLogDirs gives the broker's one directory.
func logDirErr(t *testing.T, adm *kadm.Client) error {
	t.Helper()
	dirs, err := adm.DescribeBrokerLogDirs(testCtx(t, 10*time.Second), brokerNodeID, nil)
	if err != nil {
		t.Fatalf("describe log dirs: %v", err)
	}
	if len(dirs) != 1 {
		t.Fatalf("describe log dirs: %d dirs, want 1: %+v", len(dirs), dirs)
	}
	for _, d := range dirs {
		return d.Err
	}
	return nil
}

// brokerMetric scrapes the broker's metrics listener for name.
func brokerMetric(t *testing.T, tb *testBroker, name string, labels ...string) float64 {
	t.Helper()
	body, code := scrape(t, "http://"+tb.b.MetricsAddr()+"/metrics")
	if code != 200 {
		t.Fatalf("scrape: status %d", code)
	}
	v, _ := metricSum(body, name, labels...)
	return v
}

// checkAcked consumes partition 0 of topic from the start to its end
// offset and checks that offsets only grow, every value is one the test
// produced, whole, and every acknowledged record is there unchanged.
func checkAcked(t *testing.T, addr, topic string, acks []acked, size int) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	ends, err := newAdmin(t, addr).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("list end offsets: %v / %v", err, ends.Error())
	}
	end, _ := ends.Lookup(topic, 0)
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(500*time.Millisecond))
	defer cl.Close()
	got := map[int64][]byte{}
	last := int64(-1)
	for last+1 < end.Offset {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed up to offset %d of %d before the deadline", last, end.Offset)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("consume: %v", errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset <= last {
				t.Fatalf("offset %d after %d", r.Offset, last)
			}
			var i int
			if _, err := fmt.Sscanf(string(r.Value), "record-%06d;", &i); err != nil || !bytes.Equal(r.Value, testValue(i, size)) {
				t.Fatalf("offset %d: value is not one produced, whole (%.40q...)", r.Offset, r.Value)
			}
			got[r.Offset], last = r.Value, r.Offset
		})
	}
	for _, a := range acks {
		if v, ok := got[a.offset]; !ok || !bytes.Equal(v, a.value) {
			t.Fatalf("acknowledged record at offset %d missing or changed (%d records consumed)", a.offset, len(got))
		}
	}
}

// TestDiskFullStorageErrorAndHeal fills a tmpfs under a running broker:
// produce gets KAFKA_STORAGE_ERROR at once, the directory shows offline
// (DescribeLogDirs, metrics, fetch), and freeing space brings it back
// without a restart with every acknowledged record intact.
func TestDiskFullStorageErrorAndHeal(t *testing.T) {
	mnt := mountTmpfs(t, "8m")
	data := filepath.Join(mnt, "data")
	tb := startBroker(t, withProp("log.dirs", data), withProp("metrics.listener", "http://127.0.0.1:0"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, map[string]*string{"segment.bytes": kadm.StringPtr("262144")})
	cl := storageErrorClient(t, tb.Addr(), topic)
	const size = 16 << 10
	var acks []acked
	next := 0
	produce := func() (int64, error, time.Duration) {
		v := testValue(next, size)
		next++
		off, err, took := produceOne(t, cl, v)
		if err == nil {
			acks = append(acks, acked{off, v})
		}
		return off, err, took
	}
	for range 10 {
		if _, err, _ := produce(); err != nil {
			t.Fatalf("produce before the disk filled: %v", err)
		}
	}
	errorsBefore := brokerMetric(t, tb, "sluice_log_storage_errors_total")

	filler := fillDisk(t, mnt, 512<<10)
	var err error
	var took time.Duration
	for range 200 {
		if _, err, took = produce(); err != nil {
			break
		}
	}
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("produce on a full disk: %v after %v, want KAFKA_STORAGE_ERROR (%d acked)", err, took, len(acks))
	}
	if took > 3*time.Second {
		t.Fatalf("KAFKA_STORAGE_ERROR took %v to arrive", took)
	}
	expectStorageError(t, cl, testValue(next, size))
	next++

	if err := logDirErr(t, adm); !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("DescribeLogDirs error %v, want KAFKA_STORAGE_ERROR", err)
	}
	fp := fetchPartition(t, cl, fetchReq(topic, topicID(t, cl, topic), 0, 0, 1<<20, 1<<20, 1, 100))
	if fp.ErrorCode != kerr.KafkaStorageError.Code {
		t.Fatalf("fetch from the offline dir: error %d, want KAFKA_STORAGE_ERROR", fp.ErrorCode)
	}
	if v := brokerMetric(t, tb, "kafka_log_logmanager_offlinelogdirectorycount"); v != 1 {
		t.Fatalf("offline log dir count %v, want 1", v)
	}
	if v := brokerMetric(t, tb, "sluice_log_storage_errors_total"); v <= errorsBefore {
		t.Fatalf("storage errors %v, was %v", v, errorsBefore)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	acks = append(acks, waitProduceOK(t, cl, testValue(next, size)))
	next++
	if err := logDirErr(t, adm); err != nil {
		t.Fatalf("DescribeLogDirs after the heal: %v", err)
	}
	if v := brokerMetric(t, tb, "kafka_log_logmanager_offlinelogdirectorycount"); v != 0 {
		t.Fatalf("offline log dir count %v after the heal, want 0", v)
	}
	for range 10 {
		if _, err, _ := produce(); err != nil {
			t.Fatalf("produce after the heal: %v", err)
		}
	}
	checkAcked(t, tb.Addr(), topic, acks, size)

	// Once per state change, not once a second.
	logs := tb.logs.tail(1 << 30)
	if n := strings.Count(logs, "log directory offline"); n != 1 {
		t.Errorf("%d 'log directory offline' lines, want 1", n)
	}
	if n := strings.Count(logs, "log directory back online"); n != 1 {
		t.Errorf("%d 'log directory back online' lines, want 1", n)
	}
	if strings.Contains(logs, "roll segment") || strings.Contains(logs, "msg=retention") {
		t.Errorf("maintenance errors logged while offline:\n%s", logs)
	}

	// After a restart the log recovers as it was: nothing to cut.
	tb.Restart()
	checkAcked(t, tb.Addr(), topic, acks, size)
	if logs := tb.logs.tail(1 << 30); strings.Contains(logs, "truncating segment") {
		t.Errorf("recovery truncated a segment after the heal:\n%s", logs)
	}
}

// TestStorageErrorEIOHeals injects EIO into one write (torn half-way) and
// one fsync of a partition log: each answers KAFKA_STORAGE_ERROR, and the
// partition takes writes again without a restart, every acknowledged
// record intact.
func TestStorageErrorEIOHeals(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	partDir := filepath.Join(tb.props["log.dirs"], topic+"-0") + string(filepath.Separator)
	cl := storageErrorClient(t, tb.Addr(), topic)
	const size = 1000
	var acks []acked
	next := 0
	produceAcked := func(n int) {
		for range n {
			v := testValue(next, size)
			next++
			off, err, _ := produceOne(t, cl, v)
			if err != nil {
				t.Fatalf("produce: %v", err)
			}
			acks = append(acks, acked{off, v})
		}
	}
	produceAcked(5)

	for _, op := range []log.FaultOp{log.FaultWrite, log.FaultSync} {
		fired := make(chan struct{})
		restore := log.SetFaultHook(func(o log.FaultOp, path string) error {
			if o != op || !strings.HasPrefix(path, partDir) {
				return nil
			}
			select {
			case <-fired:
				return nil
			default:
				close(fired)
				return syscall.EIO
			}
		})
		expectStorageError(t, cl, testValue(next, size))
		next++
		restore()
		if err := logDirErr(t, adm); !errors.Is(err, kerr.KafkaStorageError) {
			t.Fatalf("op %d: DescribeLogDirs error %v, want KAFKA_STORAGE_ERROR", op, err)
		}
		acks = append(acks, waitProduceOK(t, cl, testValue(next, size)))
		next++
		produceAcked(3)
	}
	checkAcked(t, tb.Addr(), topic, acks, size)
	tb.Restart()
	checkAcked(t, tb.Addr(), topic, acks, size)
}

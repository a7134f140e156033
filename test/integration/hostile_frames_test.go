package integration

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// procStatusBytes reads a kB field of /proc/<pid>/status (VmRSS, VmHWM) in bytes.
func procStatusBytes(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read broker status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", field, err)
		}
		return kb << 10
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// metricValue scrapes one unlabelled sample.
func metricValue(t *testing.T, metricsURL, name string) float64 {
	t.Helper()
	body, code := scrape(t, metricsURL)
	if code != 200 {
		t.Fatalf("scrape %s: %d", metricsURL, code)
	}
	v, ok := metricSum(body, name)
	if !ok {
		t.Fatalf("no %s in the metrics", name)
	}
	return v
}

const (
	poolUsedMetric     = "kafka_network_socketserver_memorypoolused"
	poolDepletedMetric = "kafka_server_socket_server_metrics_memorypooldepletedtime_seconds_total"
)

// TestHostileFrameDeclarations: 500 connections each declare a 100 MB
// frame (socket.request.max.bytes) and send a few bytes of it. The broker,
// a separate process with default settings, holds memory for the bytes
// received only: its resident memory stays far below one declared frame
// per connection (the bound asserted is 400 MB; 500 declared frames would
// be 50 GB). Once they close, their memory is returned and a client
// produces and consumes normally.
func TestHostileFrameDeclarations(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the broker's memory from /proc")
	}
	const (
		conns    = 500
		declared = 100 << 20
		bound    = 400 << 20
	)
	p := startProc(t, t.TempDir(), "metrics.listener=http://127.0.0.1:0")
	m := metricsLineRE.FindStringSubmatch(p.logs.tail(1 << 20))
	if m == nil {
		t.Fatal("no metrics listener line in the log")
	}
	metricsURL := "http://" + m[1] + "/metrics"
	pid := p.cmd.Process.Pid
	t.Logf("broker RSS at start: %d MB", procStatusBytes(t, pid, "VmRSS")>>20)

	// The start of a Produce v9 header follows each size prefix.
	hostile := binary.BigEndian.AppendUint32(nil, declared)
	hostile = append(hostile, 0, 0, 0, 9, 0, 0, 0, 1)
	var ncs []net.Conn
	defer func() {
		for _, nc := range ncs {
			nc.Close()
		}
	}()
	for i := range conns {
		nc, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		ncs = append(ncs, nc)
		nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write(hostile); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		// Stop early (and kill the broker in cleanup) rather than take
		// the machine's memory if the bound does not hold.
		if i%10 == 9 {
			if rss := procStatusBytes(t, pid, "VmRSS"); rss > bound {
				t.Fatalf("broker RSS %d MB after %d connections, bound %d MB", rss>>20, i+1, bound>>20)
			}
		}
	}
	// Every connection has read its first bytes into a first buffer (1 KiB).
	waitFor(t, 30*time.Second, "the broker to read every connection's first bytes", func() error {
		if used := metricValue(t, metricsURL, poolUsedMetric); used < conns<<10 {
			return fmt.Errorf("%s = %v, want >= %d", poolUsedMetric, used, conns<<10)
		}
		return nil
	})
	used := metricValue(t, metricsURL, poolUsedMetric)
	rss, hwm := procStatusBytes(t, pid, "VmRSS"), procStatusBytes(t, pid, "VmHWM")
	t.Logf("%d connections declaring %d MB each: request memory %.0f KB, RSS %d MB, peak RSS %d MB",
		conns, declared>>20, used/1024, rss>>20, hwm>>20)
	if used > conns*64<<10 {
		t.Errorf("request memory %v bytes for %d connections that sent 8 bytes each", used, conns)
	}
	if hwm > bound {
		t.Fatalf("broker peak RSS %d MB, bound %d MB", hwm>>20, bound>>20)
	}
	checkServing(t, p.addr)

	for _, nc := range ncs {
		nc.Close()
	}
	ncs = nil
	waitFor(t, 30*time.Second, "the broker to release the closed connections' memory", func() error {
		if used := metricValue(t, metricsURL, poolUsedMetric); used != 0 {
			return fmt.Errorf("%s = %v", poolUsedMetric, used)
		}
		return nil
	})

	topic := topicName(t, "after")
	createTopic(t, newAdmin(t, p.addr), topic, 1, nil)
	cl := newClient(t, p.addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var rs []*kgo.Record
	for i := range 100 {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte("v" + strconv.Itoa(i))})
	}
	produceSync(t, cl, rs...)
	got := 0
	ctx := testCtx(t, 30*time.Second)
	for got < len(rs) {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("consume after the hostile connections: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if want := "v" + strconv.Itoa(got); string(r.Value) != want {
				t.Fatalf("record %d: %q, want %q", got, r.Value, want)
			}
			got++
		})
	}
}

// TestFrameSentInPieces: a Produce request whose bytes arrive in pieces,
// with pauses, across the read buffer's growth steps, is decoded and
// appended intact.
func TestFrameSentInPieces(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	value := make([]byte, 300<<10)
	for i := range value {
		value[i] = byte(i * 7)
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = -1
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = buildBatch(time.Now().UnixMilli(), []rawRecord{{value: value}})
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	frame := encodeRequest(5, req)

	rc := dialRaw(t, tb.Addr())
	off := 0
	for _, n := range []int{2, 2, 1, 9, 1000, 1024, 1025, 3000, 60000, 70000, 100000} {
		rc.write(frame[off : off+n])
		off += n
		time.Sleep(5 * time.Millisecond) // pacing, so the pieces arrive apart
	}
	rc.write(frame[off:])
	resp := rc.recv(5, req).(*kmsg.ProduceResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("produce sent in pieces: %v", kerr.ErrorForCode(code))
	}
	cl := newClient(t, tb.Addr(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := cl.PollFetches(testCtx(t, 15*time.Second))
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	recs := fs.Records()
	if len(recs) != 1 || string(recs[0].Value) != string(value) {
		t.Fatalf("consumed %d records; the value sent in pieces did not come back intact", len(recs))
	}
}

// TestLargeProducesUnderPoolPressure: 16 connections each pipeline three
// ~900 KB produces against a request memory pool of 2 MiB (two such
// requests): connections wait for memory rather than fail; every request
// is appended, the pool was exhausted on the way (its depleted time grew)
// and is empty at the end.
func TestLargeProducesUnderPoolPressure(t *testing.T) {
	const conns, perConn = 16, 3
	tb := startBroker(t,
		withProp("socket.request.max.bytes", strconv.Itoa(2<<20)),
		withProp("queued.max.request.bytes", strconv.Itoa(2<<20)),
		withProp("metrics.listener", "http://127.0.0.1:0"))
	metricsURL := "http://" + tb.b.MetricsAddr() + "/metrics"
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	depleted0 := metricValue(t, metricsURL, poolDepletedMetric)

	value := make([]byte, 900_000)
	batch := buildBatch(time.Now().UnixMilli(), []rawRecord{{value: value}})
	req := produceRequest(9, topic, batch, 30000)

	var wg sync.WaitGroup
	errs := make(chan error, conns*perConn)
	for c := range conns {
		rc := dialRaw(t, tb.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Write all three before reading: the broker must not fail
			// them while the pool is full, only read them later.
			go func() {
				for i := range perConn {
					rc.c.SetWriteDeadline(time.Now().Add(60 * time.Second))
					if _, err := rc.c.Write(encodeRequest(int32(c*perConn+i), req)); err != nil {
						errs <- fmt.Errorf("connection %d write %d: %v", c, i, err)
						return
					}
				}
			}()
			for i := range perConn {
				frame, err := rc.readFrame(60 * time.Second)
				if err != nil {
					errs <- fmt.Errorf("connection %d response %d: %v", c, i, err)
					return
				}
				corr, resp, err := decodeResponse(frame, req)
				if err != nil || corr != int32(c*perConn+i) {
					errs <- fmt.Errorf("connection %d response %d: correlation %d, %v", c, i, corr, err)
					return
				}
				if code := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
					errs <- fmt.Errorf("connection %d produce %d: %v", c, i, kerr.ErrorForCode(code))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	offsets, err := newAdmin(t, tb.Addr()).ListEndOffsets(testCtx(t, 15*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offsets.Lookup(topic, 0); o.Offset != conns*perConn {
		t.Errorf("log end offset %d, want %d", o.Offset, conns*perConn)
	}
	if d := metricValue(t, metricsURL, poolDepletedMetric); d <= depleted0 {
		t.Errorf("%s did not grow (%v): the pool was never exhausted, the test proves nothing", poolDepletedMetric, d)
	}
	waitFor(t, 10*time.Second, "the pool to empty", func() error {
		if used := metricValue(t, metricsURL, poolUsedMetric); used != 0 {
			return fmt.Errorf("%s = %v", poolUsedMetric, used)
		}
		return nil
	})
}

package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func deleteRecordsReq(topic string, partition int32, offset int64) *kmsg.DeleteRecordsRequest {
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func deleteRecords(t *testing.T, addr, topic string, partition int32, offset int64) kmsg.DeleteRecordsResponseTopicPartition {
	t.Helper()
	resp := direct(t, addr, deleteRecordsReq(topic, partition, offset)).(*kmsg.DeleteRecordsResponse)
	return resp.Topics[0].Partitions[0]
}

// TestDeleteRecords checks that DeleteRecords moves the log start offset,
// that fetches below it get OFFSET_OUT_OF_RANGE, that it survives a
// restart, and Kafka's errors for bad offsets and unknown partitions.
func TestDeleteRecords(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "dr")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, map[string]*string{"segment.bytes": strp("1024")})
	cl := newClient(t, tb.Addr())
	for range 20 {
		produceRawRecords(t, cl, topic, 0, "0123456789012345678901234567890123456789012345678901234567890123456789")
	}

	if p := deleteRecords(t, tb.Addr(), topic, 0, 7); p.ErrorCode != 0 || p.LowWatermark != 7 {
		t.Fatalf("delete before 7: code %d low %d", p.ErrorCode, p.LowWatermark)
	}
	id := topicID(t, cl, topic)
	if fp := fetchPartition(t, cl, fetchReq(topic, id, 0, 3, 1<<20, 1<<20, 1, 0)); fp.ErrorCode != kerr.OffsetOutOfRange.Code || fp.LogStartOffset != 7 {
		t.Errorf("fetch at 3: code %d log start %d, want OFFSET_OUT_OF_RANGE and 7", fp.ErrorCode, fp.LogStartOffset)
	}
	fp := fetchPartition(t, cl, fetchReq(topic, id, 0, 7, 1<<20, 1<<20, 1, 0))
	if bs := parseBatches(t, fp.RecordBatches); fp.ErrorCode != 0 || len(bs) == 0 || bs[0].FirstOffset != 7 {
		t.Errorf("fetch at 7: code %d, batches %d", fp.ErrorCode, len(bs))
	}
	adm := newAdmin(t, tb.Addr())
	starts, err := adm.ListStartOffsets(testCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup(topic, 0); o.Offset != 7 {
		t.Errorf("ListOffsets earliest = %d, want 7", o.Offset)
	}

	// Lower than the start: no change; beyond the HW: out of range; -1: the HW.
	if p := deleteRecords(t, tb.Addr(), topic, 0, 2); p.ErrorCode != 0 || p.LowWatermark != 7 {
		t.Errorf("delete before 2: code %d low %d, want 0 and 7", p.ErrorCode, p.LowWatermark)
	}
	if p := deleteRecords(t, tb.Addr(), topic, 0, 21); p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("delete beyond the HW: code %d", p.ErrorCode)
	}
	if p := deleteRecords(t, tb.Addr(), topic, 3, 1); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown partition: code %d", p.ErrorCode)
	}
	if p := deleteRecords(t, tb.Addr(), topic, 0, 12); p.ErrorCode != 0 || p.LowWatermark != 12 {
		t.Errorf("delete before 12: code %d low %d", p.ErrorCode, p.LowWatermark)
	}

	tb.Restart()
	starts, err = newAdmin(t, tb.Addr()).ListStartOffsets(testCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup(topic, 0); o.Offset != 12 {
		t.Errorf("after restart: log start %d, want 12", o.Offset)
	}
	// Through kadm, as tools do: -1 deletes everything.
	resps, err := newAdmin(t, tb.Addr()).DeleteRecords(testCtx(t, 10*time.Second), kadm.Offsets{topic: {0: {At: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resps.Lookup(topic, 0); r.Err != nil || r.LowWatermark != 20 {
		t.Errorf("delete all: %+v", r)
	}
}

// TestDescribeLogDirsAndCluster checks DescribeLogDirs sizes and
// DescribeCluster's brokers and controller.
func TestDescribeLogDirsAndCluster(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "ld")
	adm := newAdmin(t, tb.Addr())
	createTopic(t, adm, topic, 2, nil)
	produceRawRecords(t, newClient(t, tb.Addr()), topic, 1, "a", "b", "c")

	dirs, err := adm.DescribeBrokerLogDirs(testCtx(t, 10*time.Second), brokerNodeID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 1 {
		t.Fatalf("log dirs: %d", len(dirs))
	}
	for _, d := range dirs {
		if d.Err != nil || d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes {
			t.Errorf("dir %s: err %v total %d usable %d", d.Dir, d.Err, d.TotalBytes, d.UsableBytes)
		}
		p0, ok0 := d.Topics.Lookup(topic, 0)
		p1, ok1 := d.Topics.Lookup(topic, 1)
		if !ok0 || !ok1 || p0.Size != 0 || p1.Size <= 0 {
			t.Errorf("partition sizes: %+v %+v", p0, p1)
		}
	}
	only, err := adm.DescribeBrokerLogDirs(testCtx(t, 10*time.Second), brokerNodeID, kadm.TopicsSet{topic: {1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range only {
		if n := d.Topics.Size(); n <= 0 {
			t.Errorf("filtered: size %d", n)
		}
		if _, ok := d.Topics.Lookup(topic, 0); ok {
			t.Errorf("filtered to partition 1, got partition 0 too")
		}
	}

	req := kmsg.NewPtrDescribeClusterRequest()
	req.EndpointType = 1
	resp := direct(t, tb.Addr(), req).(*kmsg.DescribeClusterResponse)
	if resp.ErrorCode != 0 || resp.ClusterID == "" || resp.ControllerID != 1 || len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 1 {
		t.Errorf("DescribeCluster: %+v", resp)
	}
	req.EndpointType = 2
	if resp := direct(t, tb.Addr(), req).(*kmsg.DescribeClusterResponse); resp.ErrorCode != kerr.MismatchedEndpointType.Code {
		t.Errorf("controller endpoint type: code %d", resp.ErrorCode)
	}
}

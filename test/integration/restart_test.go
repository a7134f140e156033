package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumeAll reads every record of topic from the start up to the
// current end offsets and returns them by partition, in offset order.
func consumeAll(t *testing.T, addr, topic string) map[int32][]*kgo.Record {
	t.Helper()
	ctx := testCtx(t, 60*time.Second)
	ends, err := newAdmin(t, addr).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("list end offsets %q: %v / %v", topic, err, ends.Error())
	}
	want := 0
	ends.Each(func(o kadm.ListedOffset) { want += int(o.Offset) })
	out := map[int32][]*kgo.Record{}
	if want == 0 {
		return out
	}
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(time.Second))
	defer cl.Close()
	got := 0
	for got < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records of %q before the deadline", got, want, topic)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("consume %q: %v", topic, errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if n := int64(len(out[r.Partition])); r.Offset != n {
				t.Fatalf("%s/%d: consumed offset %d, want %d", topic, r.Partition, r.Offset, n)
			}
			out[r.Partition] = append(out[r.Partition], r)
			got++
		})
	}
	return out
}

// TestRestart: after a clean close and a new broker on the same data
// directory, topics (with IDs and partition counts), configs and records
// are all there, deleted topics stay deleted, and offsets continue.
func TestRestart(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 60*time.Second)

	a, b, gone := topicName(t, "a"), topicName(t, "b"), topicName(t, "gone")
	// Small segments: topic a spans many segment files (and indexes).
	idA := createTopic(t, adm, a, 3, map[string]*string{
		"retention.ms":  kadm.StringPtr("123456789"),
		"segment.bytes": kadm.StringPtr("1024"),
	}).ID
	idB := createTopic(t, adm, b, 1, nil).ID
	createTopic(t, adm, gone, 1, nil)

	cl := newClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceRound := func(cl *kgo.Client, round int) {
		var rs []*kgo.Record
		for i := 0; i < 90; i++ {
			rs = append(rs, &kgo.Record{
				Topic: a, Partition: int32(i % 3), Key: []byte(fmt.Sprint(i)),
				Value:     []byte(fmt.Sprintf("a-%d-%d", round, i)),
				Timestamp: time.UnixMilli(restartTS(round, i)),
			})
		}
		for i := 0; i < 10; i++ {
			rs = append(rs, &kgo.Record{Topic: b, Value: []byte(fmt.Sprintf("b-%d-%d", round, i))})
		}
		// Three records per call: one batch per partition each time, so
		// topic a's partitions roll through several 1 KiB segments.
		for len(rs) > 0 {
			n := min(3, len(rs))
			produceSync(t, cl, rs[:n]...)
			rs = rs[n:]
		}
	}
	produceRound(cl, 0)
	produceSync(t, cl, &kgo.Record{Topic: gone, Value: []byte("x")})
	if r, err := adm.DeleteTopics(ctx, gone); err != nil || r[gone].Err != nil {
		t.Fatalf("delete %q: %v / %v", gone, err, r[gone].Err)
	}
	if r, err := adm.UpdatePartitions(ctx, 2, b); err != nil || r[b].Err != nil {
		t.Fatalf("grow %q to 2 partitions: %v / %v", b, err, r[b].Err)
	}
	epochBefore := leaderEpoch(t, cl, a, 0)
	beforeA := consumeAll(t, tb.Addr(), a)
	beforeB := consumeAll(t, tb.Addr(), b)

	for restart := 1; restart <= 2; restart++ {
		tb.Restart()
		adm := newAdmin(t, tb.Addr())

		td, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatalf("restart %d: list topics: %v", restart, err)
		}
		if d, ok := td[a]; !ok || len(d.Partitions) != 3 || d.ID != idA {
			t.Errorf("restart %d: topic a = %+v, want 3 partitions, ID %v", restart, d, idA)
		}
		if d, ok := td[b]; !ok || len(d.Partitions) != 2 || d.ID != idB {
			t.Errorf("restart %d: topic b = %+v, want 2 partitions (grown from 1), ID %v", restart, d, idB)
		}
		if _, ok := td[gone]; ok {
			t.Errorf("restart %d: deleted topic %q is back", restart, gone)
		}

		rcs, err := adm.DescribeTopicConfigs(ctx, a)
		if err != nil {
			t.Fatalf("restart %d: describe configs: %v", restart, err)
		}
		rc, _ := rcs.On(a, nil)
		checkConfig(t, rc, "retention.ms", "123456789", kmsg.ConfigSourceDynamicTopicConfig)
		checkConfig(t, rc, "segment.bytes", "1024", kmsg.ConfigSourceDynamicTopicConfig)

		// Timestamp lookups work across the recovered segments: partition
		// 2 holds i = 2, 5, 8, ... of each round, 30 per round.
		lc := newClient(t, tb.Addr())
		for round := 0; round < restart; round++ {
			for _, j := range []int{0, 13, 29} {
				i := 3*j + 2
				off, ts, code := listOffset(t, lc, a, 2, restartTS(round, i)-1)
				if want := int64(round*30 + j); code != 0 || off != want || ts != restartTS(round, i) {
					t.Errorf("restart %d: offset for timestamp just before round %d record %d: %d@%d (err %d), want %d@%d", restart, round, i, off, ts, code, want, restartTS(round, i))
				}
			}
		}

		afterA, afterB := consumeAll(t, tb.Addr(), a), consumeAll(t, tb.Addr(), b)
		sameRecords(t, fmt.Sprintf("restart %d: topic a", restart), beforeA, afterA)
		sameRecords(t, fmt.Sprintf("restart %d: topic b", restart), beforeB, afterB)

		// New records continue at the old end offsets.
		cl := newClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if e := leaderEpoch(t, cl, a, 0); e < epochBefore {
			t.Errorf("restart %d: leader epoch went back from %d to %d", restart, epochBefore, e)
		}
		rec := &kgo.Record{Topic: a, Partition: 1, Value: []byte(fmt.Sprintf("after-restart-%d", restart))}
		produceSync(t, cl, rec)
		if want := int64(len(afterA[1])); rec.Offset != want {
			t.Errorf("restart %d: first produce after restart got offset %d, want %d", restart, rec.Offset, want)
		}
		produceRound(cl, restart)
		beforeA = consumeAll(t, tb.Addr(), a)
		beforeB = consumeAll(t, tb.Addr(), b)
	}
}

// restartTS is the timestamp of record i of a produce round in TestRestart.
func restartTS(round, i int) int64 {
	return 1_600_000_000_000 + int64(round)*1_000_000 + int64(i)*10
}

// sameRecords compares two consumptions record by record.
func sameRecords(t *testing.T, what string, want, got map[int32][]*kgo.Record) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: records on %d partitions, want %d", what, len(got), len(want))
	}
	for p, ws := range want {
		gs := got[p]
		if len(gs) != len(ws) {
			t.Errorf("%s: partition %d has %d records, want %d", what, p, len(gs), len(ws))
			continue
		}
		for i := range ws {
			w, g := ws[i], gs[i]
			if string(w.Key) != string(g.Key) || string(w.Value) != string(g.Value) || !w.Timestamp.Equal(g.Timestamp) {
				t.Errorf("%s: partition %d offset %d: got %q=%q@%v, want %q=%q@%v", what, p, i, g.Key, g.Value, g.Timestamp, w.Key, w.Value, w.Timestamp)
				break
			}
		}
	}
}

// TestRestartManyPartitions: a restart opens partitions many at a time
// (more partitions here than the broker opens at once; run with -race).
// Every partition comes back with its records, leads in the epoch the
// metadata names with that epoch in its epoch cache (OffsetForLeaderEpoch
// answers it, ending at the log end), and takes new records. (This
// in-process restart keeps the leader epochs; `sluice serve` stopped with
// SIGTERM bumps them, and the parallel epoch writes that follow are
// covered by the cluster tests' failovers.)
func TestRestartManyPartitions(t *testing.T) {
	const parts = 100
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, parts, nil)
	produceEach := func(round int) {
		cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		defer cl.Close()
		var rs []*kgo.Record
		for p := int32(0); p < parts; p++ {
			rs = append(rs, &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("r%d-p%d", round, p))})
		}
		produceSync(t, cl, rs...)
	}
	produceEach(0)
	tb.Restart()

	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 30*time.Second)
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	td := md.Topics[topic]
	if td.Err != nil || len(td.Partitions) != parts {
		t.Fatalf("metadata after restart: %v, %d partitions, want %d", td.Err, len(td.Partitions), parts)
	}
	var req kadm.OffsetForLeaderEpochRequest
	epochs := map[int32]int32{}
	for p, pd := range td.Partitions {
		if pd.Err != nil || pd.Leader != 1 {
			t.Fatalf("partition %d after restart: error %v, leader %d", p, pd.Err, pd.Leader)
		}
		epochs[p] = pd.LeaderEpoch
		req.Add(topic, p, pd.LeaderEpoch)
	}
	got, err := adm.OffsetForLeaderEpoch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range got[topic] {
		n++
		if o.Err != nil || o.LeaderEpoch != epochs[o.Partition] || o.EndOffset != 1 {
			t.Errorf("partition %d: OffsetForLeaderEpoch(%d) = epoch %d end %d, error %v; want epoch %d end 1",
				o.Partition, epochs[o.Partition], o.LeaderEpoch, o.EndOffset, o.Err, epochs[o.Partition])
		}
	}
	if n != parts {
		t.Fatalf("OffsetForLeaderEpoch answered %d partitions, want %d", n, parts)
	}

	produceEach(1)
	all := consumeAll(t, tb.Addr(), topic)
	for p := int32(0); p < parts; p++ {
		rs := all[p]
		if len(rs) != 2 || string(rs[0].Value) != fmt.Sprintf("r0-p%d", p) || string(rs[1].Value) != fmt.Sprintf("r1-p%d", p) {
			t.Fatalf("partition %d after restart: %d records, want r0-p%d then r1-p%d", p, len(rs), p, p)
		}
	}
}

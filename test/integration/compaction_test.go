package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeCompacted reads partition 0 of topic from the start up to its
// end offset, allowing the offset gaps compaction leaves.
func consumeCompacted(t *testing.T, addr, topic string) ([]*kgo.Record, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := newAdmin(t, addr).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		return nil, fmt.Errorf("list end offsets: %v / %v", err, ends.Error())
	}
	end, _ := ends.Lookup(topic, 0)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < end.Offset-1 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, fmt.Errorf("consumed up to %d of %d: %w", len(out), end.Offset, ctx.Err())
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return out, errs[0].Err
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out, nil
}

// logFileBytes is the total size of the .log files of a partition.
func logFileBytes(t *testing.T, dir string) int64 {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var n int64
	for _, f := range m {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n
}

// TestCompaction: a cleanup.policy=compact topic with small segments and a
// low dirty ratio is compacted in the background to exactly the latest
// value of each key, at its original offset (consumed over TCP with
// franz-go); the result survives a restart; keyless records are refused.
func TestCompaction(t *testing.T) {
	tb := startBroker(t, withProp("log.cleaner.backoff.ms", "50"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.bytes":             kadm.StringPtr("1024"),
		"segment.ms":                kadm.StringPtr("100"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	})
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	latest := map[string]*kgo.Record{}
	for round := range 40 {
		var rs []*kgo.Record
		for k := range 5 {
			rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprintf("key-%d", k)), Value: []byte(fmt.Sprintf("value-%d-%d", k, round))})
		}
		produceSync(t, cl, rs...)
		for _, r := range rs {
			latest[string(r.Key)] = r
		}
	}
	dir := filepath.Join(tb.props["log.dirs"], topic+"-0")
	full := logFileBytes(t, dir)

	check := func(what string) error {
		recs, err := consumeCompacted(t, tb.Addr(), topic)
		if err != nil {
			return err
		}
		if len(recs) != len(latest) {
			return fmt.Errorf("%s: %d records, want %d (one per key)", what, len(recs), len(latest))
		}
		for _, r := range recs {
			want := latest[string(r.Key)]
			if want == nil || string(r.Value) != string(want.Value) || r.Offset != want.Offset {
				return fmt.Errorf("%s: got %s=%s at %d, want %s at %d", what, r.Key, r.Value, r.Offset, want.Value, want.Offset)
			}
		}
		return nil
	}
	waitFor(t, 30*time.Second, "the cleaner to leave the latest value per key", func() error {
		if n := logFileBytes(t, dir); n > full/4 {
			return fmt.Errorf("log files %d bytes (%d before)", n, full)
		}
		return check("compacted")
	})

	tb.Restart()
	if err := check("after restart"); err != nil {
		t.Fatal(err)
	}

	// Kafka refuses records without a key on a compacted topic.
	ctx := testCtx(t, 10*time.Second)
	err := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic)).ProduceSync(ctx, &kgo.Record{Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless produce to a compacted topic: %v, want INVALID_RECORD", err)
	}
}

// TestCompactionConsumerOffsets: __consumer_offsets is compacted (after
// giving it small segments) and committed offsets still fetch correctly
// after a broker restart replays the compacted log.
func TestCompactionConsumerOffsets(t *testing.T) {
	tb := startBroker(t, withProp("offsets.topic.num.partitions", "1"), withProp("log.cleaner.backoff.ms", "50"))
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g-compacted"
	createTopic(t, adm, topic, 2, nil)
	ctx := testCtx(t, 60*time.Second)
	commit := func(at int64) {
		t.Helper()
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: at})
		offs.Add(kadm.Offset{Topic: topic, Partition: 1, At: 2 * at})
		resp, err := adm.CommitOffsets(ctx, group, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %d: %v", at, err)
		}
	}
	commit(0) // creates __consumer_offsets
	res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Name: "segment.bytes", Value: kadm.StringPtr("1024")},
		{Name: "segment.ms", Value: kadm.StringPtr("100")},
		{Name: "min.cleanable.dirty.ratio", Value: kadm.StringPtr("0.01")},
	}, "__consumer_offsets")
	if err == nil && len(res) > 0 {
		err = res[0].Err
	}
	if err != nil {
		t.Fatalf("alter __consumer_offsets configs: %v", err)
	}
	for i := int64(1); i <= 150; i++ {
		commit(i)
	}
	dir := filepath.Join(tb.props["log.dirs"], "__consumer_offsets-0")
	full := logFileBytes(t, dir)
	waitFor(t, 30*time.Second, "__consumer_offsets to be compacted", func() error {
		if n := logFileBytes(t, dir); n > full/4 {
			return fmt.Errorf("log files %d bytes (%d before)", n, full)
		}
		return nil
	})
	if m, _ := filepath.Glob(filepath.Join(dir, "cleaner-offset-checkpoint")); len(m) == 0 {
		t.Fatal("no cleaner checkpoint in " + dir)
	}

	tb.Restart()
	adm = newAdmin(t, tb.Addr())
	waitFor(t, 30*time.Second, "committed offsets after restart", func() error {
		got, err := committedOffsets(ctx, adm, group, topic)
		if err != nil {
			return err
		}
		if got[0].At != 150 || got[1].At != 300 {
			return fmt.Errorf("committed %v, want 150 and 300", got)
		}
		return nil
	})
}

package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/testcluster"
)

// The chaos test's invariants checker: it reads every replica's segment
// files (the bytes the broker wrote, not what it answers) and the
// leader's HW (ListOffsets), after the final heal.

// batch is one RecordBatch of a replica's log.
type batch struct {
	base, last int64
	control    bool
	raw        []byte
}

// replicaLog is the batches in node id's segment files of topic-p, in
// offset order, up to the last whole batch (a batch being appended as
// the files are read is left out: it is above the HW).
func replicaLog(c *testcluster.Cluster, id int32, topic string, p int32) ([]batch, error) {
	return logInDir(c.NodeByID(id).Dir(), id, topic, p)
}

// logInDir is replicaLog for the log directory dataDir of node id (a
// process fixture's node too).
func logInDir(dataDir string, id int32, topic string, p int32) ([]batch, error) {
	dir := filepath.Join(dataDir, fmt.Sprintf("%s-%d", topic, p))
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("node %d has no segment of %s-%d", id, topic, p)
	}
	slices.Sort(names) // zero-padded base offsets
	var out []batch
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		err = record.Split(b, func(h record.Header, raw []byte) error {
			out = append(out, batch{base: h.BaseOffset, last: h.LastOffset(), control: h.IsControl(), raw: raw})
			return nil
		})
		if err != nil && !errors.Is(err, record.ErrShort) {
			return nil, fmt.Errorf("node %d %s: %w", id, filepath.Base(n), err)
		}
	}
	return out, nil
}

// leaderHW asks node id, which must lead topic-p, for the partition's
// high watermark (ListOffsets latest, read_uncommitted).
func leaderHW(c *testcluster.Cluster, id int32, topic string, p int32) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.Request(ctx, c.NodeByID(id).Index(), req)
	if err != nil {
		return 0, err
	}
	lr := resp.(*kmsg.ListOffsetsResponse)
	if len(lr.Topics) != 1 || len(lr.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("ListOffsets of %s-%d: %+v", topic, p, lr)
	}
	rp2 := lr.Topics[0].Partitions[0]
	if rp2.ErrorCode != 0 {
		return 0, fmt.Errorf("ListOffsets of %s-%d on node %d: %v", topic, p, id, kerr.ErrorForCode(rp2.ErrorCode))
	}
	return rp2.Offset, nil
}

// committedLog is one partition's log below its HW, agreed by every
// replica.
type committedLog struct {
	hw        int64
	leaderLEO int64 // the leader's log end, as its segment files hold it
	batches   []batch
	state     string // leader, ISR and every replica's log end, for messages
}

// checkReplicas checks invariants (b) and (d) on every partition of
// topic once: every node agrees on one leader; every replica's batch
// offsets are strictly increasing and contiguous; the leader's HW is at
// most every replica's log end (after the final heal every replica has
// caught up); and below the HW every replica holds the same batches byte
// for byte. It returns each partition's committed log.
func checkReplicas(c *testcluster.Cluster, topic string) (map[int32]committedLog, error) {
	m, err := c.Metadata(0, topic)
	if err != nil {
		return nil, err
	}
	if len(m.Topics) != 1 || m.Topics[0].ErrorCode != 0 {
		return nil, fmt.Errorf("metadata of %s: %+v", topic, m.Topics)
	}
	out := map[int32]committedLog{}
	for _, mp := range m.Topics[0].Partitions {
		p := mp.Partition
		for j := range c.N() {
			l, err := c.PartitionLeader(j, topic, p)
			if err != nil {
				return nil, err
			}
			if l < 0 || l != mp.Leader {
				return nil, fmt.Errorf("%s-%d: node %d names leader %d, node 1 %d", topic, p, j+1, l, mp.Leader)
			}
		}
		hw, err := leaderHW(c, mp.Leader, topic, p)
		if err != nil {
			return nil, err
		}
		var ref []batch
		leaderLEO := int64(-1)
		state := fmt.Sprintf("leader %d epoch %d ISR %v HW %d", mp.Leader, mp.LeaderEpoch, mp.ISR, hw)
		for _, id := range mp.Replicas {
			log, err := replicaLog(c, id, topic, p)
			if err != nil {
				return nil, err
			}
			// (d) offsets monotonic: each batch starts right after the
			// previous one (no compaction here, so no gaps either).
			next := int64(-1)
			for _, b := range log {
				if next >= 0 && b.base != next {
					return nil, fmt.Errorf("(d) %s-%d replica %d: batch at %d follows one ending at %d", topic, p, id, b.base, next-1)
				}
				if b.last < b.base {
					return nil, fmt.Errorf("(d) %s-%d replica %d: batch %d..%d", topic, p, id, b.base, b.last)
				}
				next = b.last + 1
			}
			leo := int64(0)
			if len(log) > 0 {
				leo = log[len(log)-1].last + 1
			}
			state += fmt.Sprintf(" LEO[%d]=%d", id, leo)
			if id == mp.Leader {
				leaderLEO = leo
			}
			// (d) HW <= LEO: on the leader always; on a follower once it
			// caught up, which the caller waits for.
			if hw > leo {
				return nil, fmt.Errorf("(d) %s-%d: HW above replica %d's log end: %s", topic, p, id, state)
			}
			var below []batch
			for _, b := range log {
				if b.last < hw {
					below = append(below, b)
				} else if b.base < hw {
					return nil, fmt.Errorf("%s-%d replica %d: batch %d..%d straddles HW %d", topic, p, id, b.base, b.last, hw)
				}
			}
			if len(below) > 0 && below[0].base != 0 {
				return nil, fmt.Errorf("%s-%d replica %d: log starts at %d", topic, p, id, below[0].base)
			}
			// (b) byte for byte below the HW.
			if ref == nil {
				ref = below
				continue
			}
			if len(below) != len(ref) {
				return nil, fmt.Errorf("(b) %s-%d: replica %d holds %d batches below HW %d, replica %d %d", topic, p, id, len(below), hw, mp.Replicas[0], len(ref))
			}
			for i := range below {
				if !bytes.Equal(below[i].raw, ref[i].raw) {
					return nil, fmt.Errorf("(b) %s-%d: batch %d..%d differs between replicas %d (epoch %d, producer %d) and %d (epoch %d, producer %d): %s",
						topic, p, below[i].base, below[i].last, mp.Replicas[0], batchEpoch(ref[i].raw), batchProducer(ref[i].raw),
						id, batchEpoch(below[i].raw), batchProducer(below[i].raw), state)
				}
			}
		}
		out[p] = committedLog{hw: hw, leaderLEO: leaderLEO, batches: ref, state: state}
	}
	return out, nil
}

// logRecord is one data record of a committed log.
type logRecord struct {
	partition int32
	offset    int64
	key       recKey
	value     string
}

// committedRecords decodes the data records of every partition's
// committed log.
func committedRecords(logs map[int32]committedLog) ([]logRecord, error) {
	var out []logRecord
	for p, l := range logs {
		for _, b := range l.batches {
			if b.control {
				continue
			}
			err := record.Records(b.raw, func(r *record.Record) error {
				k, ok := parseValue(r.Value)
				if !ok {
					return fmt.Errorf("%d-%d: a record %q no producer wrote", p, b.base+int64(r.OffsetDelta), r.Value)
				}
				out = append(out, logRecord{p, b.base + int64(r.OffsetDelta), k, string(r.Value)})
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(out, func(a, b logRecord) int {
		if a.partition != b.partition {
			return int(a.partition - b.partition)
		}
		return int(a.offset - b.offset)
	})
	return out, nil
}

// checkAcked is invariant (a): every acknowledged record is in the
// committed log of its partition exactly once; no record is there twice
// (an idempotent retry after failover written again); and each
// producer's records stand in its order within a partition.
func checkAcked(recs []logRecord, acked map[recKey]int32) []string {
	var errs []string
	where := map[recKey]logRecord{}
	lastSeq := map[[2]int]int{} // (producer, partition) -> last seq seen
	for _, r := range recs {
		if prev, dup := where[r.key]; dup {
			errs = append(errs, fmt.Sprintf("(a) %s twice: partition %d offsets %d and %d", r.value, r.partition, prev.offset, r.offset))
			continue
		}
		where[r.key] = r
		pp := [2]int{r.key.producer, int(r.partition)}
		if last, ok := lastSeq[pp]; ok && r.key.seq < last {
			errs = append(errs, fmt.Sprintf("(a) partition %d: %s at offset %d after seq %d of its producer", r.partition, r.value, r.offset, last))
		}
		lastSeq[pp] = r.key.seq
	}
	missing := 0
	for k, p := range acked {
		r, ok := where[k]
		switch {
		case !ok:
			if missing < 10 {
				errs = append(errs, fmt.Sprintf("(a) acknowledged %s (partition %d) is not in the committed log", k.value(), p))
			}
			missing++
		case r.partition != p:
			errs = append(errs, fmt.Sprintf("(a) acknowledged %s on partition %d is in partition %d", k.value(), p, r.partition))
		}
	}
	if missing > 10 {
		errs = append(errs, fmt.Sprintf("(a) ... %d acknowledged records missing in all", missing))
	}
	return errs
}

// checkConsumed is the log half of invariant (c): every record the
// group's consumer read is in the committed log at the offset it was
// read at (nothing consumed was later truncated), and no committed
// offset is past its partition's HW.
func checkConsumed(recs []logRecord, logs map[int32]committedLog, gl *groupLog) []string {
	at := map[[2]int64]string{}
	for _, r := range recs {
		at[[2]int64{int64(r.partition), r.offset}] = r.value
	}
	gl.mu.Lock()
	defer gl.mu.Unlock()
	var errs []string
	for _, cr := range gl.records {
		if v, ok := at[[2]int64{int64(cr.partition), cr.offset}]; !ok || v != cr.value {
			errs = append(errs, fmt.Sprintf("(c) consumed %s at %d-%d, the final log has %q there", cr.value, cr.partition, cr.offset, v))
			if len(errs) > 10 {
				break
			}
		}
	}
	errs = append(errs, gl.backwards...)
	for p, off := range gl.committed {
		if l, ok := logs[p]; ok && off > l.hw {
			errs = append(errs, fmt.Sprintf("(c) partition %d: committed offset %d past HW %d", p, off, l.hw))
		}
	}
	return errs
}

// batchEpoch and batchProducer read a raw v2 batch's partition leader
// epoch and producer id, for messages.
func batchEpoch(raw []byte) int32 {
	if len(raw) < 16 {
		return -1
	}
	return int32(binary.BigEndian.Uint32(raw[12:16]))
}

func batchProducer(raw []byte) int64 {
	if len(raw) < 51 {
		return -1
	}
	return int64(binary.BigEndian.Uint64(raw[43:51]))
}

// checkAfterRun is the checker's pass once the producers have stopped:
// (b), (d) wait until the replicas have caught up (the leader's HW at its
// log end, topic and __consumer_offsets), then every check holds or the
// last failure is the test's; (a) on the committed log; (c) the group
// reads every acknowledged record at least once, then its consumers stop
// (stopConsumer, consumers) and what it read is checked against the log.
// It returns the committed logs and records, for the caller's summary.
func checkAfterRun(t *testing.T, c *testcluster.Cluster, topic string, acked map[recKey]int32, gl *groupLog,
	stopConsumer chan struct{}, consumers *sync.WaitGroup) (map[int32]committedLog, []logRecord) {
	t.Helper()
	logs := waitConverged(c, topic, "__consumer_offsets")
	recs, err := committedRecords(logs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range checkAcked(recs, acked) {
		t.Error(e)
	}
	c.WaitForWithin(60*time.Second, "the group to consume every acknowledged record", func() error {
		n := 0
		for k := range acked {
			if !gl.has(k.value()) {
				n++
			}
		}
		if n > 0 {
			return fmt.Errorf("%d of %d acknowledged records not consumed", n, len(acked))
		}
		return nil
	})
	close(stopConsumer)
	consumers.Wait()
	for _, e := range checkConsumed(recs, logs, gl) {
		t.Error(e)
	}
	return logs, recs
}

// waitConverged waits until every partition of topic passes checkReplicas
// with the leader's HW at its log end (the producers have stopped, so the
// replicas catch up), and the others topics pass checkReplicas, and
// returns topic's committed logs.
func waitConverged(c *testcluster.Cluster, topic string, others ...string) map[int32]committedLog {
	var logs map[int32]committedLog
	c.WaitForWithin(60*time.Second, "replicas converged below the HW", func() error {
		var err error
		logs, err = checkReplicas(c, topic)
		if err != nil {
			return err
		}
		for p, l := range logs {
			// The leader's own log end, not the end of the batches below
			// the HW (those end at the HW by construction): a new leader
			// holds the HW where it was until its followers fetch again.
			if l.hw != l.leaderLEO {
				return fmt.Errorf("%s-%d: HW not yet at the leader's log end: %s", topic, p, l.state)
			}
		}
		for _, o := range others {
			if _, err := checkReplicas(c, o); err != nil {
				return err
			}
		}
		return nil
	})
	return logs
}

// waitLogsEqual waits until the segment bytes of topic's partition 0 are
// the same on every replica in ids as on leader.
func waitLogsEqual(c *testcluster.Cluster, topic string, leader int32, ids []int32) {
	c.WaitFor("every replica's log equal to the new leader's", func() error {
		want, err := segmentBytes(c, leader, topic, 0)
		if err != nil {
			return err
		}
		for _, id := range ids {
			got, err := segmentBytes(c, id, topic, 0)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, want) {
				return fmt.Errorf("replica %d holds %d bytes, leader %d %d", id, len(got), leader, len(want))
			}
		}
		return nil
	})
}

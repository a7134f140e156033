package cluster

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Real clients through the SIGKILL of a partition leader (issue 17):
// librdkafka (kcat) and franz-go produce idempotently with acks=all to an
// RF 3, min.insync.replicas 2 partition while its leader's process is
// killed; every record a client was told is delivered must be in the log
// exactly once, in order, and, after the killed broker came back and
// caught up, on every replica byte for byte.

// kcatDelivery is one line of kcat's delivery reports (-v -v): a
// delivery at an offset, or a failure.
var kcatDelivery = regexp.MustCompile(`(?m)^% (?:Message delivered to partition \d+ \(offset (-?\d+)\).*|Delivery failed for message: .*)$`)

// TestKcatProducesThroughLeaderSIGKILL: kcat (librdkafka) produces n
// lines to one RF 3 partition with acks=all and enable.idempotence=true,
// read from a pipe as the test writes them; once a third are delivered the
// leader is SIGKILLed. librdkafka reports each message's delivery, in
// order for one idempotent partition, with its offset. Then kcat -C -e
// reads the partition from the new leader: every line reported delivered
// is at its reported offset, once, in the order written. The killed
// broker, restarted, catches up and every replica holds the same log.
func TestKcatProducesThroughLeaderSIGKILL(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat not found and CI is set: the librdkafka failover test must run in CI (.ci/run installs kcat)")
		}
		t.Skip("kcat (librdkafka) not installed: skipping the librdkafka failover test")
	}
	t.Parallel()
	c := startFailoverCluster(t)
	victim := nonController(t, c)
	rest := others(c, victim)
	const topic, n = "kcat-failover", 3000
	createReplicated(t, rest[0], topic, [][]int32{{victim.id, rest[0].id, rest[1].id}}, map[string]string{"min.insync.replicas": "2"})
	waitReplicated(t, c, topic, map[int32]int32{0: victim.id})

	bootstrap := strings.Join(addrsOf(c.nodes), ",")
	kctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(kctx, "kcat", "-b", bootstrap, "-t", topic, "-P", "-p", "0", "-v", "-v",
		"-X", "acks=all", "-X", "enable.idempotence=true", "-X", "retries=1000", "-X", "retry.backoff.ms=100",
		"-X", "message.timeout.ms=30000", "-X", "linger.ms=5", "-X", "batch.num.messages=20",
		"-X", "socket.connection.setup.timeout.ms=2000", "-X", "reconnect.backoff.max.ms=500")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	reports := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = reports, reports
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("kcat-%05d", i)
	}
	// The lines go in paced, so that some are in flight when the leader
	// dies and the rest are written after it.
	wrote := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(stdin)
		for i, l := range lines {
			if _, err := w.WriteString(l + "\n"); err != nil {
				wrote <- err
				return
			}
			if i%10 == 9 {
				w.Flush()
				time.Sleep(2 * time.Millisecond)
			}
		}
		w.Flush()
		wrote <- stdin.Close()
	}()
	delivered := func() int { return len(kcatDelivery.FindAllString(reports.String(), -1)) }
	waitFor(t, 30*time.Second, "kcat to deliver a third of the lines", func() error {
		if d := delivered(); d < n/3 {
			return fmt.Errorf("%d reports; kcat wrote:\n%s", d, tail(reports.String(), 1500))
		}
		return nil
	})
	victim.kill()
	killedAt := delivered()
	if err := <-wrote; err != nil {
		t.Fatalf("writing to kcat: %v", err)
	}
	werr := cmd.Wait()
	out := reports.String()
	reps := kcatDelivery.FindAllStringSubmatch(out, -1)
	t.Logf("kcat: %d reports (%d before the kill), exit %v", len(reps), killedAt, werr)
	if len(reps) != n {
		t.Fatalf("kcat reported %d deliveries of %d lines (exit %v):\n%s", len(reps), n, werr, tail(out, 3000))
	}
	var acked []string
	offsetOf := map[string]int64{}
	for i, r := range reps {
		if r[1] == "" {
			continue // failed: may or may not be in the log, but once at most
		}
		off, _ := strconv.ParseInt(r[1], 10, 64)
		acked = append(acked, lines[i])
		offsetOf[lines[i]] = off
	}
	if len(acked) < n*9/10 {
		t.Errorf("only %d of %d lines delivered:\n%s", len(acked), n, tail(out, 3000))
	}
	newLeader := waitNewLeader(t, c, topic, 0, victim.id)

	// librdkafka reads the partition back from the new leader.
	consumed := kcatConsume(t, bootstrap, topic)
	checkOnceInOrder(t, "kcat -C", consumed, acked)
	for _, lv := range consumed {
		if want, ok := offsetOf[lv.value]; ok && want != lv.offset {
			t.Errorf("%q reported delivered at offset %d, read at %d", lv.value, want, lv.offset)
		}
	}

	victim.restart()
	waitReplicated(t, c, topic, map[int32]int32{0: newLeader})
	checkOnceInOrder(t, "every replica's log", valuesOf(t, replicasAgree(t, c, topic, 0)), acked)
}

// kcatConsume reads topic-0 from its start to its end with kcat -C -e and
// returns each record's offset and value.
func kcatConsume(t *testing.T, bootstrap, topic string) []loggedValue {
	t.Helper()
	kctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(kctx, "kcat", "-b", bootstrap, "-t", topic, "-C", "-p", "0", "-o", "beginning", "-e", "-q",
		"-f", "%o %s\n").Output()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
	var got []loggedValue
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		off, v, ok := strings.Cut(line, " ")
		o, err := strconv.ParseInt(off, 10, 64)
		if !ok || err != nil {
			t.Fatalf("kcat -C printed %q", line)
		}
		got = append(got, loggedValue{o, v})
	}
	return got
}

// TestFranzGoThroughLeaderSIGKILL: two idempotent acks=all franz-go
// producers write to three RF 3, min.insync.replicas 2 partitions while a
// consumer group of two members reads them, committing after each poll.
// The leader of partition 0 (not the controller) is SIGKILLed mid-run: a
// new leader is elected from the ISR, the producers and the group carry
// on. After the run every acknowledged record is in its partition exactly
// once, in its producer's order; the group consumed every acknowledged
// record, each at the offset where the final log has it; and, with the
// killed broker restarted and back in every ISR, each partition's
// replicas hold the same log byte for byte.
func TestFranzGoThroughLeaderSIGKILL(t *testing.T) {
	t.Parallel()
	c := startFailoverCluster(t)
	victim := nonController(t, c)
	rest := others(c, victim)
	const topic, group, perProducer = "franz-failover", "franz-failover-group", 600
	a, b, v := rest[0].id, rest[1].id, victim.id
	createReplicated(t, rest[0], topic, [][]int32{{v, a, b}, {a, b, v}, {b, v, a}}, map[string]string{"min.insync.replicas": "2"})
	waitReplicated(t, c, topic, map[int32]int32{0: v, 1: a, 2: b})
	addrs := addrsOf(c.nodes)

	// The group: two members reading everything, committing what they
	// processed after each poll.
	type consumedRec struct {
		p      int32
		offset int64
		value  string
	}
	var mu sync.Mutex
	var consumed []consumedRec
	gctx, stopGroup := context.WithCancel(context.Background())
	var gwg sync.WaitGroup
	for range 2 {
		cl := newClient(t, addrs, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond))
		gwg.Add(1)
		go func() {
			defer gwg.Done()
			for gctx.Err() == nil {
				fs := cl.PollFetches(gctx)
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					consumed = append(consumed, consumedRec{r.Partition, r.Offset, string(r.Value)})
					mu.Unlock()
				})
				// A failed commit is retried by the next poll's; a record
				// whose commit is lost is delivered again (at least once).
				_ = cl.CommitUncommittedOffsets(gctx)
			}
		}()
	}

	// The producers: numbered records cycling over the partitions, each
	// acknowledgement recorded in order per partition.
	var ackMu sync.Mutex
	acked := map[int32][]string{}
	var sent sync.WaitGroup
	var progress sync.WaitGroup
	progress.Add(2)
	for pr := range 2 {
		cl := newClient(t, addrs, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordDeliveryTimeout(30*time.Second),
			kgo.ProducerLinger(0))
		sent.Add(1)
		go func() {
			defer sent.Done()
			for i := range perProducer {
				if i == perProducer/3 {
					progress.Done()
				}
				r := &kgo.Record{Partition: int32(i % 3), Value: fmt.Appendf(nil, "p%d-%04d", pr, i)}
				cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce %s: %v", r.Value, err)
						return
					}
					ackMu.Lock()
					acked[r.Partition] = append(acked[r.Partition], string(r.Value))
					ackMu.Unlock()
				})
				time.Sleep(2 * time.Millisecond) // pacing, so the kill lands mid-run
			}
			if err := cl.Flush(context.Background()); err != nil {
				t.Errorf("flush: %v", err)
			}
		}()
	}
	progress.Wait()
	victim.kill()
	t.Logf("SIGKILLed broker %d, leader of %s-0", v, topic)
	newLeader := waitNewLeader(t, c, topic, 0, v)
	sent.Wait()

	// The group read everything acknowledged; then it stops.
	ackMu.Lock()
	total := 0
	for _, vs := range acked {
		total += len(vs)
	}
	ackMu.Unlock()
	if total != 2*perProducer {
		t.Fatalf("%d of %d records acknowledged", total, 2*perProducer)
	}
	waitFor(t, 30*time.Second, "the group to consume every acknowledged record", func() error {
		mu.Lock()
		defer mu.Unlock()
		seen := map[string]bool{}
		for _, r := range consumed {
			seen[r.value] = true
		}
		if len(seen) < total {
			return fmt.Errorf("%d of %d records consumed", len(seen), total)
		}
		return nil
	})
	stopGroup()
	gwg.Wait()

	victim.restart()
	waitReplicated(t, c, topic, map[int32]int32{0: newLeader, 1: a, 2: b})
	final := map[[2]int64]string{}
	for p := range int32(3) {
		log := valuesOf(t, replicasAgree(t, c, topic, p))
		for _, lv := range log {
			final[[2]int64{int64(p), lv.offset}] = lv.value
		}
		// Per producer: its records on p in the order acknowledged.
		for pr := range 2 {
			prefix := fmt.Sprintf("p%d-", pr)
			var mine []string
			for _, v := range acked[p] {
				if strings.HasPrefix(v, prefix) {
					mine = append(mine, v)
				}
			}
			checkOnceInOrder(t, fmt.Sprintf("%s-%d, producer %d", topic, p, pr), filterPrefix(log, prefix), mine)
		}
	}
	for _, r := range consumed {
		if got := final[[2]int64{int64(r.p), r.offset}]; got != r.value {
			t.Errorf("the group read %s at %d-%d; the final log has %q there", r.value, r.p, r.offset, got)
		}
	}
}

// filterPrefix is the records of log whose value starts with prefix.
func filterPrefix(log []loggedValue, prefix string) []loggedValue {
	var out []loggedValue
	for _, lv := range log {
		if strings.HasPrefix(lv.value, prefix) {
			out = append(out, lv)
		}
	}
	return out
}

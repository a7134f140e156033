package integration

// Consumer groups through a second, independent client implementation:
// segmentio/kafka-go's Reader (its own JoinGroup/SyncGroup/Heartbeat/
// OffsetCommit code and request versions).

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// kgoReader is a kafka-go group Reader with a goroutine that fetches and
// commits each message after recording its value.
type kgoReader struct {
	name   string
	r      *kafka.Reader
	logs   *lockedBuffer
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu   sync.Mutex
	vals []string
}

func startKafkaGoReader(t *testing.T, addr, group, topic, name string) *kgoReader {
	t.Helper()
	logs := &lockedBuffer{}
	logf := func(prefix string) kafka.LoggerFunc {
		return func(msg string, args ...any) { fmt.Fprintf(logs, name+" "+prefix+msg+"\n", args...) }
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{addr},
		GroupID:           group,
		Topic:             topic,
		Dialer:            &kafka.Dialer{ClientID: name, Timeout: 5 * time.Second},
		MinBytes:          1,
		MaxBytes:          1 << 20,
		MaxWait:           200 * time.Millisecond,
		SessionTimeout:    groupSession,
		HeartbeatInterval: 300 * time.Millisecond,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  200 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    200 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
		CommitInterval:    0, // CommitMessages commits synchronously
		Logger:            logf(""),
		ErrorLogger:       logf("ERROR "),
	})
	ctx, cancel := context.WithCancel(context.Background())
	kr := &kgoReader{name: name, r: r, logs: logs, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(kr.done)
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				return
			}
			kr.mu.Lock()
			kr.vals = append(kr.vals, string(m.Value))
			kr.mu.Unlock()
			if err := r.CommitMessages(ctx, m); err != nil {
				fmt.Fprintf(logs, "%s commit %d/%d: %v\n", name, m.Partition, m.Offset, err)
			}
		}
	}()
	t.Cleanup(func() {
		kr.Close()
		if t.Failed() {
			t.Logf("kafka-go reader %s log (tail):\n%s", name, logs.tail(6000))
		}
	})
	return kr
}

// Close stops fetching and closes the reader (which leaves the group).
func (kr *kgoReader) Close() {
	kr.once.Do(func() {
		kr.cancel()
		<-kr.done
		kr.r.Close()
	})
}

func (kr *kgoReader) values() []string {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return append([]string(nil), kr.vals...)
}

// waitKafkaGoValues waits until the readers together fetched every value
// of want, and fails on duplicates or values outside want.
func waitKafkaGoValues(t *testing.T, want []string, readers ...*kgoReader) {
	t.Helper()
	wantSet := map[string]bool{}
	for _, v := range want {
		wantSet[v] = true
	}
	waitFor(t, 30*time.Second, fmt.Sprintf("%d records across %d kafka-go readers", len(want), len(readers)), func() error {
		by := map[string]string{}
		n := 0
		for _, kr := range readers {
			for _, v := range kr.values() {
				if prev, dup := by[v]; dup {
					t.Fatalf("%q delivered to %s and %s", v, prev, kr.name)
				}
				if !wantSet[v] {
					t.Fatalf("%s fetched unexpected %q", kr.name, v)
				}
				by[v] = kr.name
				n++
			}
		}
		if n != len(want) {
			return fmt.Errorf("have %d of %d", n, len(want))
		}
		return nil
	})
}

// TestGroupKafkaGo: two kafka-go readers in one group split a 2-partition
// topic and get each record once; offsets they commit survive the
// readers: a new reader in the group starts after them.
func TestGroupKafkaGo(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g-kafka-go"
	createTopic(t, adm, topic, 2, nil)
	prod := newClient(t, tb.Addr())
	key := func(i int) string { return fmt.Sprintf("k%d", i) }

	r1 := startKafkaGoReader(t, tb.Addr(), group, topic, "reader-1")
	r2 := startKafkaGoReader(t, tb.Addr(), group, topic, "reader-2")
	waitFor(t, 30*time.Second, "two kafka-go readers with one partition each", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		state, byClient, err := describedAssignment(ctx, adm, group, topic)
		if err != nil {
			return err
		}
		if state != "Stable" || len(byClient["reader-1"]) != 1 || len(byClient["reader-2"]) != 1 {
			return fmt.Errorf("state %s, assignment %v", state, byClient)
		}
		return nil
	})

	first := seqValues("first", 100)
	produceValues(t, prod, topic, first, key)
	waitKafkaGoValues(t, first, r1, r2)
	if len(r1.values()) == 0 || len(r2.values()) == 0 {
		t.Errorf("reader-1 got %d records, reader-2 %d: want both to get some", len(r1.values()), len(r2.values()))
	}
	waitCommittedAtEnd(t, adm, group, topic)
	r1.Close()
	r2.Close()

	second := seqValues("second", 40)
	produceValues(t, prod, topic, second, key)
	r3 := startKafkaGoReader(t, tb.Addr(), group, topic, "reader-3")
	waitKafkaGoValues(t, second, r3) // fails on a record of the first batch
	waitCommittedAtEnd(t, adm, group, topic)
}

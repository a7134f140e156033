package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRdkafkaTransactions: librdkafka's transactional producer
// (test/rdkafka/txn.c: init, a committed transaction over two partitions,
// an aborted one) works against Sluice, and read_committed sees exactly the
// committed records. Skipped without gcc or librdkafka.so.1.
func TestRdkafkaTransactions(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	src, err := filepath.Abs(filepath.Join("..", "rdkafka", "txn.c"))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "txn")
	if out, err := exec.Command("gcc", "-O1", "-o", bin, src, "-l:librdkafka.so.1").CombinedOutput(); err != nil {
		t.Skipf("cannot build against librdkafka: %v\n%s", err, out)
	}
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 2, nil)
	out, err := exec.Command(bin, tb.Addr(), topic, "rdkafka-txn").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("librdkafka transactional producer: %v\n%s", err, out)
	}
	var want []string
	for i := range 10 {
		want = append(want, "lr-c-"+string(rune('0'+i)))
	}
	if got := sortedValues(eosConsume(t, tb.Addr(), topic, 10, true)); !sameStrings(got, want) {
		t.Fatalf("read_committed: %v", got)
	}
	if n := eosConsumeAll(t, tb.Addr(), topic); n != 10 {
		t.Fatalf("read_committed holds %d records, want 10", n)
	}
	if got := eosConsume(t, tb.Addr(), topic, 15, false); len(got) != 15 {
		t.Fatalf("read_uncommitted: %d records", len(got))
	}
}

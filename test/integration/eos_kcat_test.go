package integration

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestKcatIdempotentProducer: librdkafka with enable.idempotence=true
// (InitProducerId, sequence numbers) produces through kcat; every line is
// stored once and the partition knows the producer.
func TestKcatIdempotentProducer(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat not installed")
	}
	tb := startBroker(t)
	topic := topicName(t, "")
	adm := newAdmin(t, tb.Addr())
	createTopic(t, adm, topic, 1, nil)
	var in strings.Builder
	const n = 500
	for i := range n {
		fmt.Fprintf(&in, "line-%d\n", i)
	}
	cmd := exec.Command("kcat", "-b", tb.Addr(), "-t", topic, "-P", "-p", "0",
		"-X", "enable.idempotence=true", "-X", "linger.ms=5", "-X", "batch.num.messages=50")
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
	got := eosConsume(t, tb.Addr(), topic, n, false)
	seen := map[string]bool{}
	for _, r := range got {
		if seen[string(r.Value)] {
			t.Fatalf("%s stored twice", r.Value)
		}
		seen[string(r.Value)] = true
	}
	if len(got) != n {
		t.Fatalf("%d records, want %d", len(got), n)
	}
	dp, err := adm.DescribeProducers(testCtx(t, 10*time.Second), kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	ps := dp.SortedProducers()
	if len(ps) != 1 || ps[0].LastSequence != n-1 {
		t.Fatalf("producers: %+v", ps)
	}
}

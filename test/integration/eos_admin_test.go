package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnAdmin: DescribeProducers shows a partition's producers with
// their epoch, last sequence and open transaction; DescribeTransactions
// and ListTransactions show transactional ids with their state and
// partitions (what kafka-transactions.sh and kadm use).
func TestTxnAdmin(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	adm := newAdmin(t, tb.Addr())
	createTopic(t, adm, topic, 2, nil)
	ctx := testCtx(t, 30*time.Second)

	idem := newEOSClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceSync(t, idem, &kgo.Record{Partition: 0, Value: []byte("a")}, &kgo.Record{Partition: 0, Value: []byte("b")})
	tx := newEOSClient(t, tb.Addr(), kgo.TransactionalID("admin-txn"), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produceSync(t, tx, &kgo.Record{Partition: 1, Value: []byte("t")})

	dp, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}, 1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	ps := dp.SortedProducers()
	if len(ps) != 2 {
		t.Fatalf("producers: %+v", ps)
	}
	for _, p := range ps {
		switch p.Partition {
		case 0:
			if p.LastSequence != 1 || p.CurrentTxnStartOffset != -1 {
				t.Fatalf("idempotent producer: %+v", p)
			}
		case 1:
			if p.LastSequence != 0 || p.CurrentTxnStartOffset != 0 {
				t.Fatalf("transactional producer: %+v", p)
			}
		}
	}

	dt, err := adm.DescribeTransactions(ctx, "admin-txn", "no-such-txn")
	if err != nil {
		t.Fatal(err)
	}
	d := dt["admin-txn"]
	if d.State != "Ongoing" || d.TimeoutMillis <= 0 || d.StartTimestamp <= 0 {
		t.Fatalf("described: %+v", d)
	}
	if _, ok := d.Topics[topic][1]; !ok {
		t.Fatalf("described partitions: %+v", d.Topics)
	}
	if dt["no-such-txn"].Err == nil {
		t.Fatalf("unknown transactional id described without error: %+v", dt["no-such-txn"])
	}
	lt, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := lt["admin-txn"]; !ok || l.State != "Ongoing" || l.ProducerID != d.ProducerID {
		t.Fatalf("listed: %+v", lt)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	lt, err = adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	if len(lt) != 0 {
		t.Fatalf("listed ongoing after commit: %+v", lt)
	}
	lt, err = adm.ListTransactions(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l := lt["admin-txn"]; l.State != "CompleteCommit" {
		t.Fatalf("listed after commit: %+v", lt)
	}
}

package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCLITxnListDescribe: an open transaction shows in `sluice txn list`
// and `describe` (JSON and table) with its partitions; after the commit
// it is CompleteCommit with none.
func TestCLITxnListDescribe(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 2, nil)
	prod := newClient(t, tb.Addr(), kgo.TransactionalID("cli-txn"), kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := prod.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := prod.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var listed []struct {
		TransactionalID string `json:"transactional_id"`
		ProducerID      int64  `json:"producer_id"`
		State           string `json:"state"`
	}
	cliJSON(t, tb.Addr(), &listed, "txn", "list")
	if len(listed) != 1 || listed[0].TransactionalID != "cli-txn" || listed[0].State != "Ongoing" || listed[0].ProducerID < 0 {
		t.Fatalf("txn list: %+v, want cli-txn Ongoing", listed)
	}
	var described []struct {
		TransactionalID string           `json:"transactional_id"`
		State           string           `json:"state"`
		Partitions      map[string][]int `json:"partitions"`
	}
	cliJSON(t, tb.Addr(), &described, "txn", "describe", "cli-txn")
	if len(described) != 1 || described[0].State != "Ongoing" || len(described[0].Partitions[topic]) == 0 {
		t.Fatalf("txn describe while open: %+v", described)
	}
	r := runCLI(t, nil, "txn", "describe", "--brokers", tb.Addr())
	rows := tableRows(r.stdout)
	if r.code != 0 || len(rows) != 2 || !slices.Equal(rows[0][:3], []string{"TRANSACTIONAL-ID", "STATE", "PRODUCER-ID"}) || rows[1][0] != "cli-txn" {
		t.Fatalf("txn describe table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the transaction to complete", func() error {
		described = nil // json.Unmarshal would merge into the old maps
		cliJSON(t, tb.Addr(), &described, "txn", "describe", "cli-txn")
		if len(described) != 1 || described[0].State != "CompleteCommit" || len(described[0].Partitions) != 0 {
			return fmt.Errorf("describe after commit: %+v", described)
		}
		return nil
	})
	cliFails(t, tb.Addr(), "format", "txn", "list", "--format", "yaml")
}

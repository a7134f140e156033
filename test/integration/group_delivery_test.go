package integration

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupDeliverySemantics: a consumer crashes (SIGKILL) after
// processing 3 records of its first poll. Committing before processing
// (at most once) loses the polled records it had not processed: the next
// consumer of the group starts after them. Committing after processing (at
// least once) loses nothing: the next consumer gets the 3 processed
// records again.
func TestGroupDeliverySemantics(t *testing.T) {
	for _, mode := range []string{"before", "after"} {
		t.Run("commit-"+mode, func(t *testing.T) {
			t.Parallel()
			tb := startGroupBroker(t)
			adm := newAdmin(t, tb.Addr())
			topic, group := topicName(t, ""), "g-"+mode
			createTopic(t, adm, topic, 1, nil)
			prod := newClient(t, tb.Addr())
			const total, crashAfter = 20, 3
			values := seqValues("r", total)
			produceValues(t, prod, topic, values, nil) // one batch: the first poll has them all

			crashed := startProcMember(t, tb.Addr(), group, topic, "-commit", mode, "-crash-after", fmt.Sprint(crashAfter))
			crashed.waitExit(t, 30*time.Second)
			v := crashed.view()
			if v.count != crashAfter {
				t.Fatalf("crashed member processed %d records, want %d", v.count, crashAfter)
			}
			committed, hasCommit := v.committed[0]
			switch {
			case mode == "before" && (!hasCommit || committed <= crashAfter):
				t.Fatalf("commit-before member committed %v (%v) before crashing, want past its %d processed records", committed, hasCommit, crashAfter)
			case mode == "after" && hasCommit:
				t.Fatalf("commit-after member committed %d before crashing", committed)
			}

			// The next consumer of the group; the crashed member is still in
			// the group until its session times out.
			produceSync(t, prod, &kgo.Record{Topic: topic, Value: []byte("after-crash")})
			next := startGroupMember(t, tb.Addr(), group, "next", []string{topic})
			want := slices.Concat(values[committed:], []string{"after-crash"})
			waitRecords(t, want, next) // fails on anything before the commit
			if first := next.Records()[0]; first.Offset != committed {
				t.Errorf("next consumer started at offset %d, want the committed %d", first.Offset, committed)
			}
			if mode == "before" {
				t.Logf("at most once: records %d..%d were polled and committed, never processed", crashAfter, committed-1)
			} else {
				t.Logf("at least once: records 0..%d were processed twice", crashAfter-1)
			}
		})
	}
}

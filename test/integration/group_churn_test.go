package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupChurn: members join and leave while records keep coming; with
// commits after processing, no record is lost (each is consumed at least
// once by someone) and the group ends committed at the end of the topic.
// Eager (range) and cooperative rebalancing both.
func TestGroupChurn(t *testing.T) {
	for _, tc := range []struct {
		name     string
		balancer kgo.GroupBalancer
	}{
		{"eager-range", kgo.RangeBalancer()},
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := startGroupBroker(t)
			adm := newAdmin(t, tb.Addr())
			topic, group := topicName(t, ""), "g-churn"
			createTopic(t, adm, topic, 6, nil)
			prod := newClient(t, tb.Addr())
			var all []string
			chunk := 0
			produce := func() {
				vs := seqValues(fmt.Sprintf("chunk%d", chunk), 100)
				chunk++
				produceValues(t, prod, topic, vs, func(i int) string { return vs[i] })
				all = append(all, vs...)
			}
			live := map[string]*groupMember{}
			var everyone []*groupMember
			start := func(name string) {
				m := startGroupMember(t, tb.Addr(), group, name, []string{topic}, committingEachPoll(), withKgo(kgo.Balancers(tc.balancer)))
				live[name] = m
				everyone = append(everyone, m)
			}
			stop := func(name string) {
				live[name].Close()
				delete(live, name)
			}
			balanced := func() {
				var ms []*groupMember
				for _, m := range live {
					ms = append(ms, m)
				}
				waitBalanced(t, adm, group, topic, 6, ms...)
			}

			produce()
			start("a")
			balanced()
			produce()
			start("b")
			balanced()
			produce()
			start("c")
			balanced()
			produce()
			stop("a")
			balanced()
			produce()
			start("d")
			balanced()
			stop("b")
			balanced()
			produce()

			waitFor(t, 30*time.Second, fmt.Sprintf("all %d records consumed at least once", len(all)), func() error {
				seen := map[string]bool{}
				for _, m := range everyone {
					for _, v := range valuesOf(m.Records()) {
						seen[v] = true
					}
				}
				missing := 0
				for _, v := range all {
					if !seen[v] {
						missing++
					}
				}
				if missing > 0 {
					return fmt.Errorf("%d missing", missing)
				}
				return nil
			})
			waitCommittedAtEnd(t, adm, group, topic)
			total := 0
			for _, m := range everyone {
				total += len(m.Records())
			}
			t.Logf("%d records consumed %d times in all", len(all), total)
		})
	}
}

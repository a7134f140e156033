package integration

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestGroupKcat: librdkafka's balanced consumer (kcat -G) reads a topic to
// its end and commits on exit; a second run in the same group reads only
// what was produced since. Skipped when kcat is not installed.
func TestGroupKcat(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat not installed")
	}
	for name, strategy := range map[string]string{"eager": "range,roundrobin", "cooperative": "cooperative-sticky"} {
		t.Run(name, func(t *testing.T) {
			tb := startGroupBroker(t)
			adm := newAdmin(t, tb.Addr())
			topic, group := topicName(t, ""), "g-kcat"
			createTopic(t, adm, topic, 2, nil)
			prod := newClient(t, tb.Addr())
			key := func(i int) string { return fmt.Sprintf("k%d", i) }
			consume := func() []string {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, "kcat", "-b", tb.Addr(), "-G", group,
					"-X", "auto.offset.reset=earliest", "-X", "partition.assignment.strategy="+strategy,
					"-X", "session.timeout.ms=6000", "-e", "-q", "-f", "%s\n", topic)
				out, err := cmd.Output()
				if err != nil {
					stderr := ""
					if ee, ok := err.(*exec.ExitError); ok {
						stderr = string(ee.Stderr)
					}
					t.Fatalf("kcat -G: %v\n%s", err, stderr)
				}
				vals := strings.Fields(string(out))
				sort.Strings(vals)
				return vals
			}
			sorted := func(vs []string) []string {
				out := append([]string(nil), vs...)
				sort.Strings(out)
				return out
			}

			first := seqValues("first", 50)
			produceValues(t, prod, topic, first, key)
			if got := consume(); strings.Join(got, " ") != strings.Join(sorted(first), " ") {
				t.Fatalf("first kcat run read %d records %v, want the %d produced", len(got), got, len(first))
			}
			waitCommittedAtEnd(t, adm, group, topic)

			second := seqValues("second", 20)
			produceValues(t, prod, topic, second, key)
			if got := consume(); strings.Join(got, " ") != strings.Join(sorted(second), " ") {
				t.Fatalf("second kcat run read %v, want only the %d new records", got, len(second))
			}
			waitCommittedAtEnd(t, adm, group, topic)
		})
	}
}

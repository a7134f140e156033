package integration

import (
	"strings"
	"testing"
	"time"
)

// TestCLIConsumeExit checks consume --exit stops once caught up: all
// partitions, some empty; one empty partition; a group, then the same
// group again with nothing left.
func TestCLIConsumeExit(t *testing.T) {
	p := startProc(t, t.TempDir())
	topic := topicName(t, "exit")
	cliOK(t, p.addr, "topic", "create", topic, "-p", "3")
	produceToPartitions(t, p.addr, topic, 4, 0, 2)

	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--from", "beginning"}, 8},
		{[]string{"--from", "beginning", "-p", "1"}, 0},
		{[]string{"--from", "offset:2", "-p", "2"}, 2},
		{[]string{"--group", "g-" + topic, "--from", "beginning"}, 8},
		{[]string{"--group", "g-" + topic, "--from", "beginning"}, 0},
	} {
		start := time.Now()
		out := cliOK(t, p.addr, append([]string{"consume", topic, "--exit"}, tc.args...)...)
		if n := strings.Count(out, "\n"); n != tc.want {
			t.Errorf("consume --exit %v: %d records, want %d", tc.args, n, tc.want)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("consume --exit %v took %v", tc.args, d)
		}
	}
}

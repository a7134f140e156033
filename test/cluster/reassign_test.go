package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestReassignMovesData: an RF 1 partition on one broker, with records,
// is reassigned by `sluice topic reassign --wait` to the two other
// brokers: they copy it from the leader, the controller completes the
// reassignment once both are in sync (leadership moves to the first
// target), every record is readable from the new leader, the old
// broker's log is deleted and nothing is listed as ongoing.
func TestReassignMovesData(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	from, to1, to2 := c.Node(0).ID(), c.Node(1).ID(), c.Node(2).ID()
	const topic, n = "reassign-move", 100
	tcCreateAssigned(t, c, topic, []int32{from}, nil)
	c.WaitPartitionLeader(topic, 0)
	produceTo(t, producer(t, c), topic, 0, values("r", n)...)

	bctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(bctx, sluiceBinary(t), "topic", "reassign", "--brokers", strings.Join(c.Bootstrap(), ","),
		"--topic", topic, "--partition", "0", "--replicas", fmt.Sprintf("%d,%d", to1, to2), "--wait", "--interval", "100ms")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sluice topic reassign: %v\n%s", err, out)
	}
	t.Logf("sluice topic reassign:\n%s", out)
	if !strings.Contains(string(out), "Reassignment started") || !strings.Contains(string(out), fmt.Sprintf("%s-0: complete", topic)) {
		t.Fatalf("output lacks start or completion:\n%s", out)
	}

	want := []int32{to1, to2}
	c.WaitFor("the target replicas leading", func() error {
		pi := partitionInfo(t, c, 1, topic, 0)
		if !slices.Equal(pi.Replicas, want) || pi.Leader != to1 || !sameSet(pi.ISR, want) {
			return fmt.Errorf("replicas %v leader %d isr %v", pi.Replicas, pi.Leader, pi.ISR)
		}
		return nil
	})
	wantValues(t, consumeAll(t, c, topic, 1, n), func(int32) string { return "r" }, n)

	dir := filepath.Join(c.NodeByID(from).Dir(), topic+"-0")
	c.WaitFor("the old replica's log deleted", func() error {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %v", dir, err)
		}
		return nil
	})
	adm := c.Admin(t)
	l, err := adm.ListPartitionReassignments(ctx(t), kadm.TopicsSet{topic: {0: {}}})
	if err != nil || len(l) != 0 {
		t.Fatalf("ongoing after completion: %v %v", l, err)
	}
}

// runSluiceCLI runs the sluice binary against c and returns its output.
func runSluiceCLI(t *testing.T, c *testcluster.Cluster, args ...string) string {
	t.Helper()
	bctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(bctx, sluiceBinary(t), append(args, "--brokers", strings.Join(c.Bootstrap(), ","))...).CombinedOutput()
	if err != nil {
		t.Fatalf("sluice %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestReassignVerifyAndCancel: a target broker cut off from the leader
// cannot catch up, so the reassignment stays ongoing: --verify shows it
// with its adding and removing replicas, --cancel restores the original
// replica, and the cancelled broker deletes the copy it started.
func TestReassignVerifyAndCancel(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	// Neither end of the cut is the controller, so the quorum is whole.
	ctl := c.WaitLeader().Index()
	li, ti := (ctl+1)%3, (ctl+2)%3
	from, to := c.Node(li).ID(), c.Node(ti).ID()
	const topic = "reassign-cancel"
	tcCreateAssigned(t, c, topic, []int32{from}, nil)
	c.WaitPartitionLeader(topic, 0)
	produceTo(t, producer(t, c), topic, 0, values("r", 10)...)
	c.Cut(li, ti)
	t.Cleanup(c.HealAll)

	tp := []string{"topic", "reassign", "--topic", topic, "--partition", "0"}
	runSluiceCLI(t, c, append(tp, "--replicas", fmt.Sprint(to))...)
	out := runSluiceCLI(t, c, append(tp, "--verify")...)
	want := fmt.Sprintf("%s-0: in progress: replicas [%d %d] adding [%d] removing [%d]", topic, to, from, to, from)
	if !strings.Contains(out, want) {
		t.Fatalf("--verify:\n%s\nwant %q", out, want)
	}
	c.WaitFor("the target hosting its copy", func() error {
		_, err := os.Stat(filepath.Join(c.NodeByID(to).Dir(), topic+"-0"))
		return err
	})

	out = runSluiceCLI(t, c, append(tp, "--cancel", "--verify")...)
	if !strings.Contains(out, "Reassignment cancelled") || !strings.Contains(out, fmt.Sprintf("%s-0: complete", topic)) {
		t.Fatalf("--cancel:\n%s", out)
	}
	c.WaitFor("the original replica back", func() error {
		pi := partitionInfo(t, c, ctl, topic, 0)
		if !slices.Equal(pi.Replicas, []int32{from}) || pi.Leader != from {
			return fmt.Errorf("replicas %v leader %d", pi.Replicas, pi.Leader)
		}
		return nil
	})
	dir := filepath.Join(c.NodeByID(to).Dir(), topic+"-0")
	c.WaitFor("the cancelled copy deleted", func() error {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %v", dir, err)
		}
		return nil
	})
	wantValues(t, consumeAll(t, c, topic, 1, 10), func(int32) string { return "r" }, 10)
}

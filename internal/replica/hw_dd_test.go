package replica

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/clock"
	"github.com/sluice-io/sluice/internal/metadata"
)

// TestHighWatermarkDatadriven drives a leader partition (broker 1, a real
// log) through testdata/hw: follower fetches on a fake clock, the HW they
// allow, ISR shrinks and expansions through the real ISR wiring
// (isr_wiring.go) with the controller's answers scripted. Commands:
//
//	leader replicas=(..) isr=(..) epoch=E partition-epoch=P lag=D
//	                       opens the partition and installs the image
//	image isr=(..) partition-epoch=P [epoch=E] [replicas=(..)]
//	                       a later image of the partition
//	append n=N             the leader appends and fsyncs N records
//	fetch id=F offset=O    a replica fetch from F at O (UpdateFollower)
//	advance d=D            moves the clock
//	tick                   the periodic out-of-sync check (maybeShrink)
//	answer ok | answer error=NAME
//	                       the controller's answer to the proposal in flight
//	fenced ids=(..)        brokers not eligible for the ISR (KIP-841)
//
// Each prints the HW, LEO, committed and in-flight ISR, each follower's
// fetch offset and time since it was last caught up, and any
// AlterPartition the command sent.
func TestHighWatermarkDatadriven(t *testing.T) {
	datadriven.RunTest(t, "testdata/hw", newHWHarness(t).run)
}

type hwHarness struct {
	t       *testing.T
	clk     *clock.Fake
	p       *Partition
	sent    chan ISRChange
	reply   chan hwReply
	sentGen uint64
	pending *ISRChange // the AlterPartition waiting for an answer
	fenced  []int32
}

type hwReply struct {
	commit ISRCommit
	err    error
}

func newHWHarness(t *testing.T) *hwHarness {
	return &hwHarness{t: t, clk: clock.NewFake(time.Unix(1_000_000, 0)), sent: make(chan ISRChange, 1),
		reply: make(chan hwReply)}
}

func (h *hwHarness) open(t *testing.T, d *datadriven.TestData) {
	var lag string
	d.ScanArgs(t, "lag", &lag)
	lagMax, err := time.ParseDuration(lag)
	if err != nil {
		d.Fatalf(t, "lag: %v", err)
	}
	p := openTestPartition(t, t.TempDir())
	p.clock = h.clk.Now
	p.ctl = &isrControl{lagMax: lagMax}
	cfg := &ISRControl{Logger: slog.New(slog.DiscardHandler),
		Eligible: func(id int32) bool { return !slices.Contains(h.fenced, id) },
		// The controller: each proposal waits for the script's answer.
		Alter: func(ctx context.Context, c ISRChange) (ISRCommit, error) {
			h.sent <- c
			select {
			case r := <-h.reply:
				return r.commit, r.err
			case <-ctx.Done():
				return ISRCommit{}, ctx.Err()
			}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	p.ctl.cfg, p.ctl.ctx, p.ctl.cancel = cfg, ctx, cancel
	p.ctl.live.Store(cfg)
	h.t.Cleanup(func() {
		cancel()
		p.ctl.wg.Wait()
		p.log.Close()
	})
	h.p = p
}

func (h *hwHarness) image(t *testing.T, d *datadriven.TestData, replicas []int32) {
	pi := metadata.PartitionImage{Leader: 1, Replicas: replicas, ISR: argIDs(t, d, "isr"),
		LeaderEpoch:    int32(argInt64(t, d, "epoch", int64(h.p.role.leaderEpoch))),
		PartitionEpoch: int32(mustInt64(t, d, "partition-epoch"))}
	h.p.followImage(pi, 1)
}

func (h *hwHarness) run(t *testing.T, d *datadriven.TestData) string {
	var out string
	switch d.Cmd {
	case "leader":
		h.open(t, d)
		h.image(t, d, argIDs(t, d, "replicas"))
	case "image":
		replicas := argIDs(t, d, "replicas")
		if replicas == nil {
			replicas = h.p.role.replicas
		}
		h.image(t, d, replicas)
	case "append":
		appendN(t, h.p, int(mustInt64(t, d, "n")))
	case "fetch":
		h.p.UpdateFollower(int32(mustInt64(t, d, "id")), -1, mustInt64(t, d, "offset"), h.clk.Now())
	case "advance":
		var s string
		d.ScanArgs(t, "d", &s)
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.Fatalf(t, "d: %v", err)
		}
		h.clk.Advance(dur)
	case "tick":
		h.p.maybeShrink(h.clk.Now())
	case "fenced":
		h.fenced = argIDs(t, d, "ids")
	case "answer":
		if h.pending == nil {
			d.Fatalf(t, "no AlterPartition in flight")
		}
		c := *h.pending
		r := hwReply{commit: ISRCommit{ISR: c.ISR, LeaderEpoch: c.LeaderEpoch, PartitionEpoch: c.PartitionEpoch + 1}}
		if d.HasArg("error") {
			var name string
			d.ScanArgs(t, "error", &name)
			r = hwReply{err: kerrByName(t, d, name)}
		}
		h.reply <- r
		h.p.ctl.wg.Wait() // the answer is applied
		h.pending = nil
		out = "answered\n"
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	// sendISR counts every proposal it sends: one that went out during
	// this command is on its way to the scripted controller.
	if g := h.p.ctl.gen.Load(); g != h.sentGen {
		h.sentGen = g
		select {
		case c := <-h.sent:
			h.pending = &c
			out += fmt.Sprintf("AlterPartition sent: isr=%s leader-epoch=%d partition-epoch=%d\n",
				fmtIDs(c.ISR), c.LeaderEpoch, c.PartitionEpoch)
		case <-time.After(10 * time.Second):
			d.Fatalf(t, "a proposal was counted but never reached the controller")
		}
	}
	return out + h.state()
}

// state prints what the leader knows. A follower's "caught-up" is the
// time since its last caught-up time (Kafka's lastCaughtUpTimeMs), never
// when it has not been caught up in this epoch.
func (h *hwHarness) state() string {
	p := h.p
	p.mu.Lock()
	r, t := p.role, p.isr
	hw := p.hw
	p.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "hw=%d leo=%d leader-epoch=%d partition-epoch=%d\n", hw, p.log.EndOffset(), r.leaderEpoch, r.partitionEpoch)
	fmt.Fprintf(&b, "isr=%s in-flight=%s\n", fmtIDs(r.isr), fmtIDs(t.InFlight()))
	t.mu.Lock()
	defer t.mu.Unlock()
	now := h.clk.Now()
	for _, id := range r.replicas {
		f := t.followers[id]
		if f == nil {
			continue
		}
		up := "never"
		if !f.lastCaughtUp.IsZero() {
			up = now.Sub(f.lastCaughtUp).String() + " ago"
		}
		fmt.Fprintf(&b, "  follower %d: offset=%d caught-up=%s\n", id, f.fetchOffset, up)
	}
	return b.String()
}

func kerrByName(t *testing.T, d *datadriven.TestData, name string) error {
	for _, e := range []*kerr.Error{kerr.IneligibleReplica, kerr.FencedLeaderEpoch, kerr.InvalidUpdateVersion,
		kerr.NotController, kerr.InvalidRequest} {
		if e.Message == name {
			return e
		}
	}
	d.Fatalf(t, "unknown error %q", name)
	return nil
}

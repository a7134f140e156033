package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/api"
	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestDescribeClusterShowsShuttingDown: while a broker is in controlled
// shutdown, DescribeCluster marks it (api.TagInControlledShutdown, what
// `sluice cluster info` shows as "shutting down"), and not the others.
// The shutdown is held open by a paused third broker: the controller lets
// a broker go once every active broker has seen its leaderships move (or
// the paused one's lease runs out, hence the long session timeout). While
// it is held, `sluice cluster info --format json` (the CLI process) says
// "shutting down" for that broker and "running" for the others.
func TestDescribeClusterShowsShuttingDown(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.WithProp("broker.session.timeout.ms", "8000"))
	adm := c.Admin(t)
	if resp, err := adm.CreateTopic(ctx(t), 3, 3, nil, "sd"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	// Both the stopping and the paused broker are not the controller's
	// node, and the request goes to the controller's.
	ctl := c.WaitLeader().Index()
	stopping, paused := (ctl+1)%3, (ctl+2)%3
	id := c.Node(stopping).ID()
	c.Pause(paused)
	stopped := make(chan struct{})
	go func() { defer close(stopped); c.Stop(stopping) }()
	c.WaitFor(fmt.Sprintf("node %d shown in controlled shutdown", id), func() error {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeFencedBrokers = true
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := c.Request(rctx, ctl, req)
		if err != nil {
			return err
		}
		for _, b := range resp.(*kmsg.DescribeClusterResponse).Brokers {
			if got := api.InControlledShutdown(&b); got != (b.NodeID == id) {
				return fmt.Errorf("broker %d: in controlled shutdown %v", b.NodeID, got)
			}
		}
		return nil
	})
	// The CLI asks the controller's node too (the paused one would stall
	// it).
	c.WaitFor(fmt.Sprintf("cluster info showing node %d shutting down", id), func() error {
		var info struct {
			Brokers []struct {
				ID    int32  `json:"id"`
				State string `json:"state"`
			} `json:"brokers"`
		}
		if err := cliJSONErr(t, c.Node(ctl).Addr(), &info, "cluster", "info"); err != nil {
			return err
		}
		if len(info.Brokers) != 3 {
			return fmt.Errorf("brokers %+v", info.Brokers)
		}
		for _, b := range info.Brokers {
			want := "running"
			if b.ID == id {
				want = "shutting down"
			}
			if b.State != want {
				return fmt.Errorf("broker %d: state %q, want %q", b.ID, b.State, want)
			}
		}
		return nil
	})
	select {
	case <-stopped:
		t.Fatalf("node %d finished its shutdown while a broker was paused", id)
	default:
	}
	c.Resume(paused)
	<-stopped
}

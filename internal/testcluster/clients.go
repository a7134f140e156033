package testcluster

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Dialer is the clients' way onto the cluster's network: a kgo.Dialer
// (or any client's dial function) whose connections Isolate and Pause
// act on.
func (c *Cluster) Dialer() func(ctx context.Context, network, host string) (net.Conn, error) {
	return c.net.dialer(client)
}

// Client is a kgo client seeded with every node and dialing through the
// cluster's network, closed by t.Cleanup. opts come after the fixture's
// (kgo.SeedBrokers(c.Node(1).Addr()) seeds it with one node). Metadata
// may be refreshed every 100 ms and retries back off 100 ms, so a client
// follows a leader change in a fault test within a few hundred ms.
func (c *Cluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(c.Bootstrap()...),
		kgo.Dialer(c.Dialer()),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin is a kadm client over Client(t, opts...).
func (c *Cluster) Admin(t testing.TB, opts ...kgo.Opt) *kadm.Client {
	t.Helper()
	return kadm.NewClient(c.Client(t, opts...))
}

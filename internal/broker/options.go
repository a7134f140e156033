package broker

import (
	"context"
	"log/slog"
	"net"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/raft"
)

// Options are a broker's Go-level seams: what an embedding program (in
// practice the in-process test cluster, internal/testcluster) may change
// that has no Kafka config key. The zero value is the broker `sluice
// serve` runs.
type Options struct {
	// Dial, when set, opens every connection this broker makes to
	// another node in place of net.Dialer: the inter-broker clients
	// (registration and heartbeats to the active controller, the
	// transaction coordinator's markers, verification and producer id
	// requests) and the metadata quorum's TCP transport (raft stream and
	// forwarded metadata changes). Accepted connections are untouched:
	// a test network wraps the dialing end of every connection.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// NewWithOptions is New with seams set.
func NewWithOptions(cfg *config.Broker, logger *slog.Logger, opts Options) *Broker {
	b := New(cfg, logger)
	b.opts = opts
	return b
}

// QuorumStatus is this node's view of the metadata quorum (leader, term,
// commit), as DescribeQuorum reports it. Only valid between Start and
// Close.
func (b *Broker) QuorumStatus() raft.Status { return b.meta.QuorumStatus() }

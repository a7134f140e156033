package broker

import (
	"github.com/sluice-io/sluice/internal/interbroker"
	"github.com/sluice-io/sluice/internal/replica"
)

// Replication's follower side: the partition manager's fetchers reach
// each leader through their own inter-broker client (b.replNet), on the
// endpoint every broker registered for inter.broker.listener.name, as a
// replica with this broker's current epoch from the image.

// startReplication starts fetching the partitions this broker follows.
func (b *Broker) startReplication() error {
	listener, err := b.cfg.InterBrokerListenerName()
	if err != nil {
		return err
	}
	s := b.cfg.ReplicaFetch()
	ib, err := interbroker.New(interbroker.Config{NodeID: b.cfg.NodeID, Resolve: endpointResolver(b.meta, listener),
		Logger: b.logger.With("component", "replica-fetcher-interbroker"), Dial: b.peers.broker, SASL: b.peers.brokerSASL,
		MaxResponseBytes: max(s.ResponseMaxBytes, s.MaxBytes) + 1<<20})
	if err != nil {
		return err
	}
	b.replNet = ib
	b.parts.StartReplication(replica.FetcherConfig{
		BrokerEpoch:      func() int64 { return b.registeredEpoch(b.cfg.NodeID) },
		Request:          ib.Request,
		MaxBytes:         s.MaxBytes,
		ResponseMaxBytes: s.ResponseMaxBytes,
		MaxWait:          s.MaxWait,
		Backoff:          s.Backoff,
		Fetchers:         s.Fetchers,
		Throttle:         b.throttle.follower,
		Logger:           b.logger.With("component", "replica-fetcher"),
	})
	b.startISR()
	return nil
}

// closeReplication stops the fetchers, then their client.
func (b *Broker) closeReplication() {
	if b.parts != nil {
		b.parts.StopISR()
		b.parts.StopReplication()
	}
	if b.replNet != nil {
		b.replNet.Close()
	}
}

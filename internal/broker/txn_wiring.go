package broker

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/sluice-io/sluice/internal/interbroker"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/txn"
)

// The transaction coordinator reaches other brokers (partition leaders
// for markers and verification, the active controller for producer id
// blocks) through its own inter-broker client, dialing each broker's
// endpoint on inter.broker.listener.name as registered in the metadata.

// newTxnCoordinator builds the transaction coordinator and its
// inter-broker client (b.txnNet) and starts it: it follows leadership of
// the __transaction_state partitions from here on.
func (b *Broker) newTxnCoordinator() (*txn.Coordinator, error) {
	listener, err := b.cfg.InterBrokerListenerName()
	if err != nil {
		return nil, err
	}
	ib, err := interbroker.New(interbroker.Config{NodeID: b.cfg.NodeID, Resolve: endpointResolver(b.meta, listener),
		Logger: b.logger.With("component", "txn-interbroker"), Dial: b.peers.broker, SASL: b.peers.brokerSASL})
	if err != nil {
		return nil, err
	}
	c, err := txn.New(txn.Config{
		Dir:               b.dir,
		NodeID:            b.cfg.NodeID,
		NumPartitions:     b.cfg.TransactionStateLogNumPartitions,
		ReplicationFactor: b.cfg.TransactionStateLogReplicationFactor(),
		MinISR:            b.cfg.TransactionStateLogMinISR(),
		MaxTimeoutMs:      b.cfg.TransactionMaxTimeoutMs,
		CheckInterval:     time.Duration(b.cfg.TransactionAbortTimedOutIntervalMs) * time.Millisecond,
		Peers:             ib,
	}, b.meta, b.ctl, b.parts, b.coord, b.logger.With("component", "txn"))
	if err != nil {
		ib.Close()
		return nil, err
	}
	b.txnNet = ib
	c.Start()
	return c, nil
}

// closeTxn stops the transaction coordinator, then its client.
func (b *Broker) closeTxn() {
	if b.txn != nil {
		b.txn.Close()
	}
	if b.txnNet != nil {
		b.txnNet.Close()
	}
}

// endpointResolver maps a node id to its endpoint on listener in the
// current metadata image.
func endpointResolver(meta *metadata.Store, listener string) interbroker.Resolver {
	return func(id int32) (string, error) {
		br, ok := meta.Image().Brokers[id]
		if !ok {
			return "", fmt.Errorf("broker %d is not registered", id)
		}
		host, port, ok := br.Endpoint(listener)
		if !ok {
			return "", fmt.Errorf("broker %d has no endpoint on listener %s", id, listener)
		}
		return net.JoinHostPort(host, strconv.Itoa(int(port))), nil
	}
}

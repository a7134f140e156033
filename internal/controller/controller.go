// Package controller is the metadata controller: it turns admin requests
// (broker registration, topic creation and deletion, partition additions,
// topic config changes) into metadata records, applying Kafka's validation
// rules and error codes. On the active controller (the quorum leader) it
// also runs the broker lifecycle (brokers.go: leases, fencing, controlled
// shutdown) and decides partition leadership and ISRs: elections when a
// leader is fenced, shuts down or a broker returns, ElectLeaders,
// unclean.leader.election.enable (elect.go), and the leaders' ISR changes
// by AlterPartition (alter_partition.go), all through one builder of
// PartitionChangeRecords with Kafka's rules (partition_change.go).
//
// Invariants: the controller changes metadata only by appending records
// through metadata.Store (so the same records can later be proposed to the
// Raft quorum instead); every request that fails validation, and every
// validate-only request, writes nothing; the records of one request are
// appended as one atomic batch. Requests are serialized, so each one is
// validated against the image it is applied to.
package controller

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/sluice-io/sluice/internal/clock"
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Error is a Kafka error code with a message for the response's
// error_message field.
type Error struct {
	Code    int16
	Message string
}

func (e *Error) Error() string {
	if k := kerr.TypedErrorForCode(e.Code); k != nil {
		return k.Message + ": " + e.Message
	}
	return e.Message
}

func errorf(k *kerr.Error, format string, args ...any) *Error {
	return &Error{Code: k.Code, Message: fmt.Sprintf(format, args...)}
}

// storeError wraps a failure to append to the metadata log.
func storeError(err error) *Error {
	switch {
	case errors.Is(err, metadata.ErrNotController):
		return &Error{Code: kerr.NotController.Code, Message: err.Error()}
	case errors.Is(err, metadata.ErrTimeout):
		return &Error{Code: kerr.RequestTimedOut.Code, Message: err.Error()}
	}
	return &Error{Code: kerr.UnknownServerError.Code, Message: err.Error()}
}

// Controller validates admin requests and appends their metadata records.
type Controller struct {
	store  *metadata.Store
	cfg    *config.Broker
	logger *slog.Logger
	rand   io.Reader // source of topic and incarnation UUIDs
	clock  clock.Clock

	mu sync.Mutex // serializes requests: validate and append atomically
	// leases are the brokers' heartbeat leases, kept by the active
	// controller only (brokers.go). Lock order: mu, then leases.mu.
	leases leases
	// remote reaches the active controller when this node is not the
	// quorum leader (remote.go); nil on a single node.
	remote func(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
	// rebalance is the automatic leader rebalance's state (rebalance.go).
	rebalance rebalanceState
	// brokerCheck validates broker config changes against the broker's
	// own state (broker_config_check.go); nil: none.
	brokerCheck BrokerConfigCheck
}

// New returns a controller writing through store, with defaults (number
// of partitions, replication factor, topic config defaults) from cfg.
func New(store *metadata.Store, cfg *config.Broker, logger *slog.Logger) *Controller {
	if logger == nil {
		logger = slog.Default()
	}
	return &Controller{store: store, cfg: cfg, logger: logger, rand: rand.Reader, clock: clock.Real}
}

// Image returns the current metadata image.
func (c *Controller) Image() *metadata.Image { return c.store.Image() }

// newUUID returns a random version 4 UUID, never the zero UUID (nor
// Kafka's reserved METADATA_TOPIC_ID, which is 0...01).
func (c *Controller) newUUID() (metadata.UUID, error) {
	for {
		var u metadata.UUID
		if _, err := io.ReadFull(c.rand, u[:]); err != nil {
			return u, err
		}
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
		if !u.IsZero() && u != (metadata.UUID{15: 1}) {
			return u, nil
		}
	}
}

// RegisterBroker records broker id's single endpoint (a version 0
// RegisterBrokerRecord, as before listeners had names).
func (c *Controller) RegisterBroker(id int32, host string, port int32) error {
	return c.register(metadata.RegisterBrokerRecord{BrokerID: id, Host: host, Port: port})
}

// RegisterBrokerEndpoints records broker id's advertised listeners (a
// version 1 RegisterBrokerRecord; its Host and Port are the first
// endpoint's). It writes a record (with a new incarnation ID) only when the
// broker is new or an endpoint changed.
func (c *Controller) RegisterBrokerEndpoints(id int32, eps []metadata.BrokerEndpoint) error {
	if len(eps) == 0 {
		return fmt.Errorf("controller: broker %d registers no endpoint", id)
	}
	return c.register(metadata.RegisterBrokerRecord{BrokerID: id, Host: eps[0].Host, Port: eps[0].Port, Endpoints: slices.Clone(eps)})
}

func (c *Controller) register(r metadata.RegisterBrokerRecord) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.BrokerID < 0 {
		return fmt.Errorf("controller: invalid broker id %d", r.BrokerID)
	}
	if b, ok := c.store.Image().Brokers[r.BrokerID]; ok && b.Host == r.Host && b.Port == r.Port &&
		slices.Equal(b.Endpoints, r.Endpoints) && (b.Endpoints == nil) == (r.Endpoints == nil) {
		return nil
	}
	inc, err := c.newUUID()
	if err != nil {
		return err
	}
	r.IncarnationID = inc
	if err := c.store.Append(r); err != nil {
		return err
	}
	c.logger.Info("broker registered", "id", r.BrokerID, "host", r.Host, "port", r.Port, "endpoints", len(r.Endpoints))
	return nil
}

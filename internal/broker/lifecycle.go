package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/api"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/interbroker"
	"github.com/sluice-io/sluice/internal/metadata"
)

// The broker half of KRaft's broker lifecycle (Kafka's
// BrokerLifecycleManager): once its logs are recovered the broker sends
// BrokerRegistration to the active controller, which registers it fenced
// with a new broker epoch, then a BrokerHeartbeat every
// broker.heartbeat.interval.ms carrying the metadata offset it has
// published; the controller unfences it once that offset reaches its
// registration, and fences it again if the heartbeats stop for
// broker.session.timeout.ms (controller/brokers.go).

// controllerSender sends a request to the active controller. Only
// newControllerSender knows how; nothing else changes when that does.
type controllerSender interface {
	Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
}

var errNoController = errors.New("no active controller is known yet")

// quorumLeaderSender reaches the quorum leader: in-process when this node
// leads (a combined node is its own controller), else through the
// inter-broker client to the leader's registered endpoint on
// inter.broker.listener.name.
type quorumLeaderSender struct {
	meta      *metadata.Store
	ctl       *controller.Controller
	self      int32
	clusterID string
	ib        *interbroker.Client
}

func newControllerSender(b *Broker, clusterID string) (*quorumLeaderSender, error) {
	listener, err := b.cfg.InterBrokerListenerName()
	if err != nil {
		return nil, err
	}
	meta := b.meta
	ib, err := interbroker.New(interbroker.Config{NodeID: b.cfg.NodeID, Logger: b.logger.With("component", "lifecycle"), Dial: b.peers.broker, SASL: b.peers.brokerSASL,
		Resolve: func(id int32) (string, error) {
			br, ok := meta.Image().Brokers[id]
			if !ok {
				return "", fmt.Errorf("broker %d has not registered its endpoints yet", id)
			}
			host, port, ok := br.Endpoint(listener)
			if !ok {
				return "", fmt.Errorf("broker %d has no endpoint on listener %s", id, listener)
			}
			return net.JoinHostPort(host, strconv.Itoa(int(port))), nil
		}})
	if err != nil {
		return nil, err
	}
	return &quorumLeaderSender{meta: b.meta, ctl: b.ctl, self: b.cfg.NodeID, clusterID: clusterID, ib: ib}, nil
}

func (s *quorumLeaderSender) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	st := s.meta.QuorumStatus()
	if st.Leader == 0 {
		return nil, errNoController
	}
	leader := metadata.NodeID(st.Leader)
	if leader != s.self {
		return s.ib.Request(ctx, leader, req)
	}
	switch r := req.(type) {
	case *kmsg.BrokerRegistrationRequest:
		return api.AnswerBrokerRegistration(s.ctl, s.clusterID, r, true), nil
	case *kmsg.BrokerHeartbeatRequest:
		return api.AnswerBrokerHeartbeat(s.ctl, r, nil), nil
	case *kmsg.AlterPartitionRequest:
		return api.AnswerAlterPartition(s.ctl, r), nil
	}
	return nil, fmt.Errorf("%s is not answered in-process", kmsg.NameForKey(req.Key()))
}

func (s *quorumLeaderSender) close() { s.ib.Close() }

// lifecycle registers this broker and keeps its lease.
type lifecycle struct {
	send        controllerSender
	nodeID      int32
	clusterID   string
	incarnation [16]byte
	endpoints   []metadata.BrokerEndpoint
	rack        *string       // broker.rack (nil: no rack)
	interval    time.Duration // broker.heartbeat.interval.ms
	timeout     time.Duration // of one request
	logger      *slog.Logger

	offset   atomic.Int64 // the newest metadata offset this broker published
	epoch    atomic.Int64 // -1 until registered
	fenced   atomic.Bool
	unfenced chan struct{} // closed at the first unfencing
	once     sync.Once

	stop    chan struct{}
	done    chan struct{}
	last    string                 // the last error logged (run's goroutine), to log each kind once in a row
	lastMsg atomic.Pointer[string] // the same, for startLifecycle's message
}

// startLifecycle registers this broker with the active controller and
// heartbeats from then on, and waits (bounded) until the controller has
// unfenced it, so that a client served after Start finds this broker
// live. A node that is its quorum's only voter must be unfenced: nothing
// else could. Elsewhere the wait ends after twice the session timeout
// (a restarted broker may have to wait for its previous incarnation's
// lease to expire) and the broker serves while it keeps trying.
func (b *Broker) startLifecycle(clusterID string, eps []metadata.BrokerEndpoint) error {
	sender, err := newControllerSender(b, clusterID)
	if err != nil {
		return err
	}
	b.lifeSender = sender
	b.ctl.StartBrokerLeases()
	session := b.cfg.BrokerSessionTimeout()
	l := &lifecycle{send: sender, nodeID: b.cfg.NodeID, clusterID: clusterID, endpoints: eps,
		rack: b.cfg.BrokerRack(), interval: b.cfg.BrokerHeartbeatInterval(),
		timeout: max(b.cfg.BrokerHeartbeatInterval(), session/3, 500*time.Millisecond),
		logger:  b.logger.With("component", "lifecycle"), unfenced: make(chan struct{}),
		stop: make(chan struct{}), done: make(chan struct{})}
	if _, err := rand.Read(l.incarnation[:]); err != nil {
		return err
	}
	l.epoch.Store(-1)
	l.fenced.Store(true)
	// The offset reported is the newest image the partitions have
	// applied: subscribers run in order, and this one runs after the
	// replica manager's.
	l.offset.Store(b.meta.Image().Offset)
	b.meta.Subscribe(func(_, img *metadata.Image) {
		if img.Offset > l.offset.Load() {
			l.offset.Store(img.Offset)
		}
	})
	b.life = l
	go l.run()

	wait := 2*session + 5*time.Second
	select {
	case <-l.unfenced:
		return nil
	case <-time.After(wait):
	}
	if voters := b.meta.QuorumStatus().Voters; len(voters) <= 1 {
		return fmt.Errorf("the controller did not unfence this broker within %s: %s", wait, l.lastErr())
	}
	b.logger.Warn("starting while still fenced: the active controller has not unfenced this broker yet; it keeps heartbeating",
		"waited", wait, "last.error", l.lastErr())
	return nil
}

// stopLifecycle stops heartbeating and the lease check. In a cluster it
// first shuts down the Kafka way (controlledShutdown), so the broker is
// fenced at once rather than when its lease runs out (unless handover is
// false: CloseWithoutHandover).
func (b *Broker) stopLifecycle(handover bool) {
	if b.life != nil {
		close(b.life.stop)
		<-b.life.done
		// controlled.shutdown.enable=false closes as Kafka does then:
		// without asking the controller, which fences on the lease.
		if st := b.meta.QuorumStatus(); handover && b.cfg.ControlledShutdownEnable() && (len(st.Voters) > 1 || b.cfg.IsBrokerOnly()) {
			b.life.controlledShutdown(b.cfg.BrokerSessionTimeout())
		}
		b.life = nil
	}
	if b.lifeSender != nil {
		b.lifeSender.close()
		b.lifeSender = nil
	}
	if b.ctl != nil {
		b.ctl.StopBrokerLeases()
	}
}

func (l *lifecycle) run() {
	defer close(l.done)
	retry := min(l.interval, 250*time.Millisecond)
	for !l.register() {
		if !l.sleep(retry) {
			return
		}
	}
	for {
		next := l.interval
		switch fenced, ok := l.heartbeat(); {
		case !ok:
			next = min(l.interval, 100*time.Millisecond)
		case fenced:
			// Catching up: ask again soon, as Kafka's broker does while
			// it starts.
			next = min(l.interval, 50*time.Millisecond)
		}
		if !l.sleep(next) {
			return
		}
	}
}

func (l *lifecycle) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.stop:
		return false
	case <-t.C:
		return true
	}
}

func (l *lifecycle) request(req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	go func() {
		select {
		case <-l.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return l.send.Request(ctx, req)
}

func (l *lifecycle) register() bool {
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.BrokerID, req.ClusterID, req.IncarnationID, req.Rack = l.nodeID, l.clusterID, l.incarnation, l.rack
	for _, e := range l.endpoints {
		rl := kmsg.NewBrokerRegistrationRequestListener()
		rl.Name, rl.Host, rl.Port, rl.SecurityProtocol = e.Name, e.Host, uint16(e.Port), e.SecurityProtocol
		req.Listeners = append(req.Listeners, rl)
	}
	req.PreviousBrokerEpoch = -1
	resp, err := l.request(req)
	if err == nil {
		if code := resp.(*kmsg.BrokerRegistrationResponse).ErrorCode; code != 0 {
			err = kerr.ErrorForCode(code)
		}
	}
	if err != nil {
		l.logOnce("registration with the active controller failed; retrying", err)
		return false
	}
	epoch := resp.(*kmsg.BrokerRegistrationResponse).BrokerEpoch
	l.epoch.Store(epoch)
	l.last = ""
	l.logger.Info("registered with the active controller", "epoch", epoch)
	return true
}

// heartbeat sends one heartbeat; ok is false when it got no answer.
func (l *lifecycle) heartbeat() (fenced, ok bool) {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.BrokerID, req.BrokerEpoch, req.CurrentMetadataOffset = l.nodeID, l.epoch.Load(), l.offset.Load()
	resp, err := l.request(req)
	var r *kmsg.BrokerHeartbeatResponse
	if err == nil {
		r = resp.(*kmsg.BrokerHeartbeatResponse)
		if r.ErrorCode != 0 {
			// STALE_BROKER_EPOCH too: another incarnation registered
			// this id after our lease expired (Kafka's broker also
			// keeps trying rather than take the id back).
			err = kerr.ErrorForCode(r.ErrorCode)
		}
	}
	if err != nil {
		l.logOnce("heartbeat to the active controller failed; retrying", err)
		return l.fenced.Load(), false
	}
	if l.last != "" {
		l.logger.Info("heartbeats answered again")
		l.last = ""
	}
	if was := l.fenced.Swap(r.IsFenced); was != r.IsFenced {
		if r.IsFenced {
			l.logger.Warn("the active controller fenced this broker", "epoch", req.BrokerEpoch)
		} else {
			l.logger.Info("unfenced by the active controller", "epoch", req.BrokerEpoch, "metadata.offset", req.CurrentMetadataOffset)
		}
	}
	if !r.IsFenced {
		l.once.Do(func() { close(l.unfenced) })
	}
	return r.IsFenced, true
}

// logOnce logs err unless it is the same kind as the last one logged.
func (l *lifecycle) logOnce(msg string, err error) {
	if s := err.Error(); s != l.last {
		l.last = s
		l.lastMsg.Store(&s)
		l.logger.Info(msg, "err", err)
	}
}

func (l *lifecycle) lastErr() string {
	if p := l.lastMsg.Load(); p != nil {
		return *p
	}
	return "no error: its heartbeats were answered fenced"
}

// controlledShutdown is KRaft's controlled shutdown: heartbeats with
// WantShutDown until the controller answers ShouldShutDown, having moved
// this broker's leaderships to other in-sync replicas (a partition with no
// other in-sync replica loses its leader) and fenced it once every active
// broker has seen that; a restart then registers at once. It gives up
// after timeout (the controller unreachable): the lease then runs out as
// after a crash.
func (l *lifecycle) controlledShutdown(timeout time.Duration) {
	if l.epoch.Load() < 0 {
		return // never registered: nothing to hand over
	}
	deadline := time.Now().Add(timeout)
	pause := min(l.interval, 50*time.Millisecond)
	for time.Now().Before(deadline) {
		req := kmsg.NewPtrBrokerHeartbeatRequest()
		req.BrokerID, req.BrokerEpoch, req.CurrentMetadataOffset = l.nodeID, l.epoch.Load(), l.offset.Load()
		req.WantShutdown = true
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		resp, err := l.send.Request(ctx, req)
		cancel()
		if err == nil {
			r := resp.(*kmsg.BrokerHeartbeatResponse)
			switch {
			case r.ErrorCode != 0:
				err = kerr.ErrorForCode(r.ErrorCode)
			case r.ShouldShutdown:
				l.logger.Info("controlled shutdown complete: the active controller fenced this broker")
				return
			}
		}
		if err != nil && errors.Is(err, kerr.StaleBrokerEpoch) {
			return // another incarnation owns the id: nothing of ours to hand over
		}
		time.Sleep(pause)
	}
	l.logger.Warn("controlled shutdown did not finish in time; stopping anyway (the lease will expire)", "timeout", timeout)
}

// Package broker composes the pieces (metadata store, controller, partition
// manager, Kafka listener) into a Broker with Start and Close. It holds no
// logic of its own beyond wiring and the periodic maintenance loop.
package broker

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/internal/api"
	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/console"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/coordinator"
	"github.com/sluice-io/sluice/internal/interbroker"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/quota"
	"github.com/sluice-io/sluice/internal/replica"
	"github.com/sluice-io/sluice/internal/server"
	"github.com/sluice-io/sluice/internal/share"
	"github.com/sluice-io/sluice/internal/tlsconf"
	"github.com/sluice-io/sluice/internal/txn"
)

// Broker is one running Sluice node.
type Broker struct {
	fatal  chan error // the metadata quorum member stopped (quorum.go)
	opts   Options    // Go-level seams (options.go)
	cfg    *config.Broker
	logger *slog.Logger
	dir    string

	fetchSessions *api.FetchSessions // consumers' fetch sessions (KIP-227)
	// tlsStores are the TLS listeners' reloadable configurations by
	// listener name (tls.go): written while listening, before the
	// metadata subscription that reloads them starts.
	tlsStores map[string]*tlsconf.Reloading

	meta  *metadata.Store
	ctl   *controller.Controller
	parts *replica.Manager
	coord *coordinator.Coordinator
	txn   *txn.Coordinator
	share *share.Manager // share-partitions of share groups (KIP-932)
	srv   *server.Server
	lns   []*boundListener // listeners.go; the first one is Addr()
	obs   brokerMetrics    // metrics.go

	console *console.Server // the web console, nil when off (console.go)

	txnNet   *interbroker.Client // the transaction coordinator's inter-broker client (txn_wiring.go)
	replNet  *interbroker.Client // the replica fetchers' inter-broker client (replication_wiring.go)
	shareNet *interbroker.Client // the share persister's inter-broker client (share_wiring.go)

	life       *lifecycle          // registration and heartbeats (lifecycle.go)
	lifeSender *quorumLeaderSender // how they reach the active controller

	// followers are the coordinator and share manager as the metadata
	// subscriber (the publisher's goroutine) sees them: Start builds them
	// after subscribing and hands each over through this pointer, never
	// through the plain fields, which that goroutine must not read.
	followers atomic.Pointer[imageFollowers]

	quotas *quota.Manager // client quotas, following the metadata image (quotas.go)
	health storageHealth  // offline log directory probe and scrubber (storage.go)

	// throttle is the replication throttles, following the image (throttle.go).
	throttle throttles

	// peers is how other nodes are dialed, TLS or not (tls_peers.go).
	peers peerDialers

	stop chan struct{}
	wg   sync.WaitGroup
}

// imageFollowers are the parts of the broker that follow every published
// image once they exist.
type imageFollowers struct {
	coord *coordinator.Coordinator
	share *share.Manager
}

// New prepares a broker; nothing is opened until Start.
func New(cfg *config.Broker, logger *slog.Logger) *Broker {
	if logger == nil {
		logger = slog.Default()
	}
	dir := strings.Split(cfg.LogDirs, ",")[0]
	return &Broker{cfg: cfg, logger: logger, dir: dir, stop: make(chan struct{})}
}

// Start recovers state from disk and starts listening.
func (b *Broker) Start() error {
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return fmt.Errorf("log.dirs: %w", err)
	}
	clusterID, err := loadMetaProperties(b.dir, b.cfg.NodeID, b.cfg.ProcessRoles() != nil)
	if err != nil {
		return err
	}
	if err := b.setupPeerDialers(); err != nil {
		return err
	}
	lns, err := b.listen()
	if err != nil {
		return err
	}
	lns, ctlLn := b.splitController(lns)
	b.lns = lns
	closeListeners := func() {
		for _, l := range lns {
			l.ln.Close()
		}
		if ctlLn != nil {
			ctlLn.ln.Close()
		}
	}
	host, port := lns[0].host, lns[0].port

	meta, err := b.openMetadata(ctlLn, clusterID)
	if err != nil {
		closeListeners()
		return fmt.Errorf("metadata log: %w", err)
	}
	b.meta = meta
	// From here on a failed start also releases the metadata log (and
	// its directory lock), so the same process can start again.
	closeAll := func() {
		closeListeners()
		meta.Close()
	}
	b.parts = replica.NewManager(b.dir, b.cfg, b.logger.With("component", "replica"))
	b.openLogDir()
	// Partitions follow every image the store publishes; the initial
	// apply recovers every partition log before we accept clients.
	// Dynamic broker configs are installed before the partitions apply
	// the image, so topics without overrides follow them at once.
	b.applyDynamicConfigs(meta.Image())
	// Client quotas follow the image too (internal/quota).
	b.quotas = quota.New(quota.ConfigFrom(b.cfg))
	b.quotas.Update(meta.Image())
	b.newThrottles()
	b.applyThrottles(meta.Image())
	meta.Subscribe(func(old, img *metadata.Image) {
		b.applyDynamicConfigs(img)
		b.quotas.Update(img)
		b.applyThrottles(img)
		if err := b.parts.Apply(img); err != nil {
			b.logger.Error("apply metadata", "err", err)
		}
		f := b.followers.Load()
		if f == nil {
			return
		}
		if f.coord != nil {
			f.coord.OnImage(img)
			f.coord.OnTopicsDeleted(deletedTopics(old, img))
		}
		if f.share != nil {
			var ids [][16]byte
			for id := range old.TopicsByID {
				if _, ok := img.TopicsByID[id]; !ok {
					ids = append(ids, id)
				}
			}
			f.share.TopicsDeleted(ids)
		}
	})
	clean := takeCleanShutdownMarker(b.dir)
	b.parts.SetCleanStart(clean)
	if err := b.parts.Apply(meta.Image()); err != nil {
		b.logger.Error("open partitions", "err", err)
	}
	b.parts.SetCleanStart(false)
	if clean {
		if err := dropCleanShutdownMarker(b.dir); err != nil {
			closeAll()
			return fmt.Errorf("remove %s: %w", cleanShutdownFile, err)
		}
	}
	b.ctl = controller.New(meta, b.cfg, b.logger.With("component", "controller"))
	b.ctl.SetBrokerConfigCheck(b.checkTLSConfigs)
	if err := b.startLifecycle(clusterID, endpoints(lns)); err != nil {
		b.stopLifecycle(true)
		closeAll()
		return fmt.Errorf("register broker: %w", err)
	}
	closeMeta := closeAll
	closeAll = func() { b.stopLifecycle(true); closeMeta() }

	// The group coordinator replays __consumer_offsets (if any) in the
	// background; its groups answer COORDINATOR_LOAD_IN_PROGRESS meanwhile.
	b.coord = coordinator.New(coordinator.ConfigFrom(b.cfg), coordinator.NewBackend(meta, b.ctl, b.parts),
		b.logger.With("component", "coordinator"))
	b.followers.Store(&imageFollowers{coord: b.coord})
	b.coord.Start()

	// Share groups (KIP-932): share-partition state is read through the
	// share coordinators (share_wiring.go); the group coordinator answers
	// the share-group offset APIs through it.
	if err := b.startShare(); err != nil {
		closeAll()
		return err
	}
	b.followers.Store(&imageFollowers{coord: b.coord, share: b.share})
	b.coord.SetShareState(b.share)

	// The transaction coordinator follows leadership of the
	// __transaction_state partitions, completes transactions left
	// prepared and aborts timed-out ones in the background (txn_wiring.go).
	b.txn, err = b.newTxnCoordinator()
	if err != nil {
		closeAll()
		return fmt.Errorf("transaction coordinator: %w", err)
	}

	// Followers fetch from their leaders from here on.
	if err := b.startReplication(); err != nil {
		closeAll()
		return fmt.Errorf("replication: %w", err)
	}
	closeRepl := closeAll
	closeAll = func() { b.closeReplication(); closeRepl() }

	env := &api.Env{
		Cfg: b.cfg, Meta: meta, Ctl: b.ctl, Parts: b.parts, Groups: b.coord, Txn: b.txn, Share: b.share, Quotas: b.quotas, Log: b.logger,
		NodeID: b.cfg.NodeID, Host: host, Port: port, ClusterID: clusterID, Endpoints: map[string]api.Endpoint{},
	}
	env.LeaderThrottle = b.throttle.leader
	b.fetchSessions = api.NewFetchSessions(b.cfg.FetchSessionSlots())
	env.FetchSessions = b.fetchSessions
	for _, l := range lns {
		env.Endpoints[l.cfg.Name] = api.Endpoint{Host: l.host, Port: l.port}
	}
	if b.lifeSender != nil {
		// Admin requests reach the active controller in an Envelope, and
		// the topics this broker creates itself in a CreateTopics.
		env.Forward = b.lifeSender.Request
		b.ctl.SetRemote(b.lifeSender.Request)
	}
	if b.cfg.AuthorizerEnabled() {
		env.Auth = auth.New(b.cfg.SuperUsers(), b.cfg.AllowEveryoneIfNoACLFound)
	}
	b.srv = server.New(server.Config{
		MaxRequestBytes:       b.cfg.SocketRequestMaxBytes,
		QueuedMaxRequestBytes: b.cfg.QueuedMaxRequestBytes,
		ConnectionsMaxIdle:    b.cfg.ConnectionsMaxIdle(),
		Observe:               b.observe, Admit: b.admit, OnAuth: b.onAuth,
	}, pendingHandler{api.NewHandler(env)}, b.logger.With("component", "server"))
	if err := b.startMetrics(); err != nil {
		closeAll()
		return err
	}
	// The log cleaner compacts cleanup.policy=compact partitions in the
	// background; parts.Close stops it before closing the logs.
	b.parts.StartCleaner()
	b.startScrubber()
	b.wg.Add(1 + len(lns))
	var started []string
	for _, l := range lns {
		go func() {
			defer b.wg.Done()
			_ = b.srv.ServeListener(l.ln, server.Listener{Name: l.cfg.Name, SASL: l.sasl, MaxReauth: l.maxReauth,
				TLS: l.tls, HandshakeTimeout: b.tlsHandshakeTimeout(), Principal: l.principal})
		}()
		started = append(started, fmt.Sprintf("%s://%s (advertised %s:%d)", l.cfg.Name, l.ln.Addr(), l.host, l.port))
	}
	go func() { defer b.wg.Done(); b.maintain() }()
	if err := b.startConsole(); err != nil {
		b.Close()
		return err
	}
	b.logger.Info("sluice started", "listener", lns[0].ln.Addr().String(), "advertised", fmt.Sprintf("%s:%d", host, port),
		"listeners", strings.Join(started, ","), "log.dirs", b.dir, "node.id", b.cfg.NodeID, "cluster.id", clusterID)
	return nil
}

// applyDynamicConfigs hands the image's dynamic broker configs (cluster
// default and this node's) to the shared config.
func (b *Broker) applyDynamicConfigs(img *metadata.Image) {
	b.cfg.SetDynamic(img.BrokerConfigs[""], img.BrokerConfigs[strconv.Itoa(int(b.cfg.NodeID))])
	if b.parts != nil {
		b.parts.ReconfigureCleaner() // log.cleaner.threads is dynamic
	}
	b.reloadTLS() // listener.name.<name>.ssl.* are dynamic
}

// Addr is the first listener's bound address (useful with port 0).
func (b *Broker) Addr() string { return b.lns[0].ln.Addr().String() }

// maintain rolls segments by time, applies retention and flush.ms.
func (b *Broker) maintain() {
	tick := time.Second
	if ms := b.cfg.LogFlushIntervalMs; ms > 0 && time.Duration(ms)*time.Millisecond < tick {
		tick = time.Duration(ms) * time.Millisecond
	}
	ckptEvery := b.cfg.HWCheckpointInterval()
	tick = min(tick, ckptEvery)
	t := time.NewTicker(tick)
	defer t.Stop()
	retentionEvery := time.Duration(b.cfg.LogRetentionCheckIntervalMs) * time.Millisecond
	last := time.Now()
	lastCkpt := time.Now()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			doRetention := now.Sub(last) >= retentionEvery
			if doRetention {
				last = now
			}
			b.maintainStorage(now)
			b.parts.Maintain(now, doRetention)
			// replication-offset-checkpoint (replica/hwcheckpoint.go):
			// at most one tick late, as Kafka's scheduler.
			if now.Sub(lastCkpt) >= ckptEvery {
				lastCkpt = now
				if err := b.parts.CheckpointHW(); err != nil {
					b.logger.Error("write high-watermark checkpoint", "err", err)
				}
			}
		}
	}
}

// Close stops listening and closes every log cleanly, after a controlled
// shutdown in a cluster.
func (b *Broker) Close() error { return b.close(true) }

// CloseWithoutHandover is Close without the controlled shutdown: the
// controller learns of the broker's end from its closed connections or
// its lease, as of a process that died. For fault-injection fixtures
// (testcluster's Crash), where the network is already cut and a controlled
// shutdown would only wait out its bound.
func (b *Broker) CloseWithoutHandover() error { return b.close(false) }

func (b *Broker) close(handover bool) error {
	close(b.stop)
	b.stopConsole()
	b.stopLifecycle(handover)
	b.stopMetrics()
	// The transaction coordinator goes first: it commits group offsets
	// through the group coordinator and writes markers to partitions.
	b.closeTxn()
	// The group coordinator goes next: it answers the JoinGroup/SyncGroup
	// requests it parks (else connections could not drain), and it must
	// finish its writes before the partitions close.
	if b.coord != nil {
		b.coord.Close()
	}
	// The share manager stops its lock sweeper and session watches; its
	// writes go to partitions, so it closes before them.
	b.closeShare()
	if b.srv != nil {
		b.srv.Close()
	}
	b.wg.Wait()
	if b.fetchSessions != nil {
		b.fetchSessions.Close()
	}
	b.closeReplication()
	b.stopStorage()
	var err error
	if b.parts != nil {
		err = b.parts.Close()
	}
	if b.meta != nil {
		if cerr := b.meta.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil && b.parts != nil {
		// Every log closed (fsynced) without error: the next start may
		// skip recovery fsyncs.
		err = writeCleanShutdownMarker(b.dir)
	}
	return err
}

// deletedTopics lists the topics of old that img no longer has (by ID, so
// a topic deleted and re-created in one step still counts).
func deletedTopics(old, img *metadata.Image) []string {
	var gone []string
	for id, t := range old.TopicsByID {
		if _, ok := img.TopicsByID[id]; !ok {
			gone = append(gone, t.Name)
		}
	}
	return gone
}

// shareConfig is the share-partition side of the broker properties.
func shareConfig(cfg *config.Broker) share.Config {
	sp := cfg.Share()
	return share.Config{
		MaxRecordLocks:  int(sp.PartitionMaxRecordLock),
		MaxSessions:     int(sp.MaxShareSessions),
		StatePartitions: sp.StateTopicPartitions,
	}
}

// shareStateTopic is how __share_group_state is created.
func shareStateTopic(cfg *config.Broker) share.StateTopicConfig {
	sp := cfg.Share()
	return share.StateTopicConfig{ReplicationFactor: sp.StateTopicReplication, MinISR: sp.StateTopicMinISR,
		SegmentBytes: sp.StateTopicSegmentBytes}
}

package broker

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/raft"
)

// splitController takes the controller listener (controller.listener.names)
// out of the bound listeners: it carries the metadata quorum's raft
// traffic, not Kafka requests. Nil when none is configured.
func (b *Broker) splitController(lns []*boundListener) (kafka []*boundListener, ctl *boundListener) {
	for _, l := range lns {
		if b.cfg.IsControllerListener(l.cfg.Name) {
			if ctl == nil {
				ctl = l
			} else {
				l.ln.Close() // only the first controller listener is served
			}
			continue
		}
		kafka = append(kafka, l)
	}
	return kafka, ctl
}

// openMetadata starts this node's member of the metadata quorum and waits
// until its image is as current as the quorum's: a one-voter quorum
// replays its own log; a member of a larger quorum waits for a leader
// (the other voters must be started too).
func (b *Broker) openMetadata(ctl *boundListener, clusterID string) (*metadata.Store, error) {
	voters, err := b.cfg.QuorumVoters()
	if err != nil {
		return nil, err
	}
	metaDir := filepath.Join(b.cfg.MetadataLogDir(), metadata.LogDirName)
	if len(b.cfg.QuorumBootstrapServers()) > 0 {
		// KIP-853's way: the voters are the set this node was formatted
		// with; controller.quorum.bootstrap.servers only says where to
		// look, and every formatted voter is one of them.
		if voters, err = metadata.ReadVoters(metaDir); err != nil {
			return nil, fmt.Errorf("controller.quorum.bootstrap.servers is set but %s holds no formatted voter set (%v): format the node with `sluice format --cluster-id <id> --initial-controllers id@host:port,...`", metaDir, err)
		}
		if _, ok := voters[b.cfg.NodeID]; !ok {
			return nil, fmt.Errorf("node.id %d is not among the formatted voters %v (a combined node must be one)", b.cfg.NodeID, voters)
		}
	}
	b.fatal = make(chan error, 1)
	cfg := metadata.Config{
		Dir:             metaDir,
		NodeID:          b.cfg.NodeID,
		ClusterID:       clusterID,
		Voters:          voters,
		ElectionTimeout: b.cfg.QuorumElectionTimeout(),
		SnapshotBytes:   b.cfg.MetadataSnapshotBytes(),
		Logger:          b.logger.With("component", "metadata"),
		OnFatal: func(err error) {
			select {
			case b.fatal <- err:
			default:
			}
		},
	}
	var meta *metadata.Store
	if b.cfg.IsBrokerOnly() {
		cfg.Dial = b.peers.controller
		// No vote: follow the quorum as an observer (raft/observe.go).
		if meta, err = metadata.OpenObserver(cfg); err != nil {
			return nil, err
		}
		return b.waitMetadata(meta, len(voters))
	}
	if len(voters) > 0 {
		if ctl == nil {
			return nil, fmt.Errorf("a multi-node quorum is configured but no listener is named by controller.listener.names")
		}
		if ctl.tls != nil {
			// An SSL controller listener: the raft transport reads plain
			// bytes from connections that completed a TLS handshake.
			ctl.ln = &tlsPeerListener{Listener: ctl.ln, cfg: ctl.tls, timeout: b.tlsHandshakeTimeout(),
				logs: &onceLog{logger: b.logger.With("component", "tls-controller"), seen: map[string]string{}}}
		}
		cfg.Listener = ctl.ln
		if dial := b.peers.controller; dial != nil {
			// The TCP transport as metadata.OpenQuorum would build it,
			// dialing through the seam (options.go) or with TLS
			// (tls_peers.go).
			peers := map[uint64]string{}
			for id, addr := range voters {
				peers[metadata.RaftID(id)] = addr
			}
			cfg.Transport = func(recv raft.Receiver) raft.Transport {
				return raft.NewTCPDialer(metadata.RaftID(cfg.NodeID), clusterID, ctl.ln, peers, recv, cfg.Logger, dial)
			}
		}
	}
	meta, err = metadata.OpenQuorum(cfg)
	if err != nil {
		return nil, err
	}
	if len(voters) <= 1 {
		return meta, nil
	}
	return b.waitMetadata(meta, len(voters))
}

// waitMetadata waits until meta's image is as current as the quorum's:
// a member of a larger quorum waits for a leader (the other voters must
// be started too).
func (b *Broker) waitMetadata(meta *metadata.Store, voters int) (*metadata.Store, error) {
	b.logger.Info("waiting for the metadata quorum", "voters", voters)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := meta.WaitReady(ctx)
		waited := ctx.Err() != nil // read before cancel, which sets it
		cancel()
		if err == nil {
			break
		}
		if !waited {
			// The member itself failed (raft.ErrLostLog, storage): no
			// amount of waiting helps.
			meta.Close()
			return nil, err
		}
		b.logger.Warn("still waiting for the metadata quorum: are a majority of controller.quorum.voters running?", "err", err)
	}
	st := meta.QuorumStatus()
	b.logger.Info("metadata quorum joined", "leader", metadata.NodeID(st.Leader), "epoch", st.Term, "applied", st.Applied,
		"observer", b.cfg.IsBrokerOnly())
	return meta, nil
}

// Fatal delivers an error the broker cannot survive (the metadata quorum
// member stopped): the process should exit.
func (b *Broker) Fatal() <-chan error { return b.fatal }

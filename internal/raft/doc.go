// Package raft is the metadata quorum: one member of a Raft group built on
// go.etcd.io/raft/v3's RawNode, as KRaft puts the cluster metadata log on a
// quorum of controllers. It knows nothing of metadata: it replicates opaque
// entries into a StateMachine (metadata.Store) and never touches the
// network or the clock directly (Transport, clock.Clock).
//
// # The Ready loop
//
// One goroutine (Node.loop) owns the RawNode. It ticks from the clock,
// steps messages from the transport, takes proposals, and for each Ready:
//
//  1. persists the snapshot (checkpoint, then WAL reset), the entries and
//     the hard state, fsyncing the WAL when raft says MustSync;
//  2. sends the messages, so nothing leaves that promises unpersisted state;
//  3. restores the state machine from the snapshot, if any;
//  4. applies committed entries in order;
//  5. advances, and maybe takes a snapshot (SnapshotBytes of entries applied).
//
// PreVote and CheckQuorum are on: a partitioned node cannot disrupt the
// quorum with term bumps, and a leader that loses its majority steps down
// within an election timeout. Proposal forwarding is off: only the leader
// proposes, and only after the first entry of its own term has applied
// (until then its view may lack committed entries), so the proposer
// validates against the state every replica will have.
//
// # Observers
//
// Nodes without a vote (process.roles=broker) are observers, as in KRaft:
// they fetch committed entries from a voter over the same listener
// (observe.go, observer.go) and apply them in order, restoring the
// voter's newest snapshot when they are behind its log. They are never in
// raft's configuration, so they cannot affect elections or commits; a
// voter answers them only up to its commit index.
//
// # Invariants
//
//   - A committed entry always applies (StateMachine.Apply returning an
//     error stops the node: replicas would otherwise diverge).
//   - The WAL's log offsets are entry indexes minus one; a run of entries of
//     one term is one record batch whose partitionLeaderEpoch is the term.
//   - The WAL always reaches back to the older of the two checkpoints kept,
//     so a damaged newest checkpoint can be replaced by the older one and the
//     entries after it.
//   - Term and vote are durable before any message that depends on them is
//     sent; entries are durable (when MustSync) before they are acknowledged.
//
// # Files, in the metadata log directory (__cluster_metadata-0)
//
//   - the WAL: internal/log segments (see wal.go);
//   - quorum-state: the hard state, JSON, replaced atomically (hardstate.go);
//   - %020d-%010d.checkpoint: snapshots by index and term (checkpoint.go).
//
// A new directory is bootstrapped with a checkpoint at index 1, term 1,
// holding the configured voters and the state machine's initial content;
// every voter of a new quorum writes the same one, so elections start at
// term 2 from an agreed entry 1.
package raft

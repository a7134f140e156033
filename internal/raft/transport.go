package raft

import "go.etcd.io/raft/v3/raftpb"

// Transport carries raft messages between the quorum's members. Raft
// tolerates loss, duplication and reordering, so Send never blocks and may
// drop; what it cannot deliver it reports with Node.ReportUnreachable (and
// a snapshot's fate with Node.ReportSnapshot). Incoming messages are
// handed to the receiving Node's Step. Two implementations: TCP between
// controllers (tcp.go) and an in-memory Hub for tests (hub.go).
type Transport interface {
	Send(msgs []*raftpb.Message)
	Close() error
}

// Receiver is what a transport delivers to: a Node.
type Receiver interface {
	Step(m *raftpb.Message)
	ReportUnreachable(id uint64)
	ReportSnapshot(id uint64, ok bool)
}

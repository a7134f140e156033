package raft

import (
	"context"
	"errors"

	"go.etcd.io/raft/v3/raftpb"
)

// Forwarder is a transport's request/response side channel between quorum
// members: a follower hands the leader something to propose (raft's own
// proposal forwarding is off, because the leader must validate what it
// proposes against its state).
type Forwarder interface {
	// Forward sends req to member to and returns its handler's answer.
	Forward(ctx context.Context, to uint64, req []byte) ([]byte, error)
	// HandleForward sets the handler for requests from other members.
	HandleForward(h func(ctx context.Context, req []byte) []byte)
}

// NoTransport is a one-voter quorum's transport: there is no one to send to.
type NoTransport struct{}

// Send drops msgs; a one-voter quorum sends none.
func (NoTransport) Send([]*raftpb.Message) {}

// Close does nothing.
func (NoTransport) Close() error { return nil }

// ErrUnreachable is returned by Forward when the member cannot be reached.
var ErrUnreachable = errors.New("raft: member unreachable")

// Forward calls to's handler directly, unless the link is cut.
func (e *hubEnd) Forward(ctx context.Context, to uint64, req []byte) ([]byte, error) {
	h := e.h
	h.mu.Lock()
	dst := h.fwd[to]
	blocked := e.closed || dst == nil || h.cut[[2]uint64{e.id, to}] || h.cut[[2]uint64{to, e.id}]
	h.mu.Unlock()
	if blocked {
		return nil, ErrUnreachable
	}
	return dst(ctx, append([]byte(nil), req...)), nil
}

// HandleForward registers this member's handler on the hub.
func (e *hubEnd) HandleForward(fn func(ctx context.Context, req []byte) []byte) {
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	e.h.fwd[e.id] = fn
}

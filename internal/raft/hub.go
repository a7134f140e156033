package raft

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Hub is an in-memory network between raft nodes for tests: links can be
// cut one way or both, nodes isolated, messages dropped at random (from a
// seed, so a schedule replays) or delayed.
type Hub struct {
	mu    sync.Mutex
	nodes map[uint64]Receiver
	fwd   map[uint64]func(context.Context, []byte) []byte
	cut   map[[2]uint64]bool // from, to
	drop  float64
	delay time.Duration
	rng   *rand.Rand
}

// NewHub returns a hub where every link is up. seed drives random drops.
func NewHub(seed uint64) *Hub {
	return &Hub{nodes: map[uint64]Receiver{}, fwd: map[uint64]func(context.Context, []byte) []byte{}, cut: map[[2]uint64]bool{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Join attaches a node and returns its end of the network.
func (h *Hub) Join(id uint64, r Receiver) Transport {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nodes[id] = r
	return &hubEnd{h: h, id: id}
}

// Cut drops every message from a to b and from b to a until Heal.
func (h *Hub) Cut(a, b uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cut[[2]uint64{a, b}], h.cut[[2]uint64{b, a}] = true, true
}

// Isolate cuts id from every other node.
func (h *Hub) Isolate(id uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for o := range h.nodes {
		if o != id {
			h.cut[[2]uint64{id, o}], h.cut[[2]uint64{o, id}] = true, true
		}
	}
}

// Heal restores every link.
func (h *Hub) Heal() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.cut)
}

// SetDrop makes each message vanish with probability p.
func (h *Hub) SetDrop(p float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.drop = p
}

// SetDelay delays every delivery by d.
func (h *Hub) SetDelay(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.delay = d
}

type hubEnd struct {
	h      *Hub
	id     uint64
	closed bool
}

func (e *hubEnd) Send(msgs []*raftpb.Message) {
	h := e.h
	for _, m := range msgs {
		to := m.GetTo()
		h.mu.Lock()
		dst, ok := h.nodes[to]
		src := h.nodes[e.id]
		closed := e.closed
		blocked := closed || !ok || h.cut[[2]uint64{e.id, to}] || (h.drop > 0 && h.rng.Float64() < h.drop)
		delay := h.delay
		h.mu.Unlock()
		if blocked {
			if src != nil && !closed {
				src.ReportUnreachable(to)
				if m.GetType() == raftpb.MessageType_MsgSnap {
					src.ReportSnapshot(to, false)
				}
			}
			continue
		}
		// The receiver gets its own copy, as it would off a wire.
		c := proto.Clone(m).(*raftpb.Message)
		deliver := func() {
			dst.Step(c)
			if c.GetType() == raftpb.MessageType_MsgSnap && src != nil {
				src.ReportSnapshot(to, true)
			}
		}
		if delay > 0 {
			time.AfterFunc(delay, deliver)
		} else {
			deliver()
		}
	}
}

func (e *hubEnd) Close() error {
	h := e.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.closed {
		return errors.New("raft: hub end closed twice")
	}
	e.closed = true
	delete(h.nodes, e.id)
	delete(h.fwd, e.id)
	return nil
}

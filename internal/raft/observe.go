package raft

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Observers are nodes without a vote (process.roles=broker): they follow
// the metadata log by fetching committed entries from a voter, as KRaft's
// observers fetch the __cluster_metadata partition, and are never part
// of raft's configuration, so a broker joining or dying never changes the
// quorum. This file is the voter's end; observer.go is the observer's.
//
// One request, one answer, on a connection opened with obsMagic:
//
//	request  observer id u64, from u64 (the next index wanted),
//	         max bytes u32, wait ms u32
//	answer   kind u8, leader u64, term u64, commit u64, then
//	         kind 0 (entries): count u32, each u32 length + raftpb.Entry
//	         kind 1 (snapshot): raftpb.Snapshot (from is behind the log)
//	         kind 2 (stopped): nothing
//
// A voter answers only with committed entries (up to its commit index),
// so an observer never applies what the quorum might still drop. When
// nothing is new it waits up to the request's wait for its commit index
// to move (a long poll, like a replica fetch's max wait).

const obsMagic = "SLOBS01\n"

const (
	obsEntries byte = iota
	obsSnapshot
	obsStopped
)

// obsRequestLen is the fixed size of an observer's request.
const obsRequestLen = 24

type obsRequest struct {
	id, from uint64
	maxBytes uint32
	wait     time.Duration
}

func (r obsRequest) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, r.id)
	b = binary.BigEndian.AppendUint64(b, r.from)
	b = binary.BigEndian.AppendUint32(b, r.maxBytes)
	return binary.BigEndian.AppendUint32(b, uint32(r.wait/time.Millisecond))
}

func decodeObsRequest(b []byte) (obsRequest, error) {
	if len(b) != obsRequestLen {
		return obsRequest{}, fmt.Errorf("observer request of %d bytes", len(b))
	}
	return obsRequest{
		id:       binary.BigEndian.Uint64(b),
		from:     binary.BigEndian.Uint64(b[8:]),
		maxBytes: binary.BigEndian.Uint32(b[16:]),
		wait:     time.Duration(binary.BigEndian.Uint32(b[20:])) * time.Millisecond,
	}, nil
}

type obsAnswer struct {
	kind                 byte
	leader, term, commit uint64
	entries              []*raftpb.Entry
	snap                 *raftpb.Snapshot
}

func (a obsAnswer) encode() ([]byte, error) {
	b := []byte{a.kind}
	b = binary.BigEndian.AppendUint64(b, a.leader)
	b = binary.BigEndian.AppendUint64(b, a.term)
	b = binary.BigEndian.AppendUint64(b, a.commit)
	switch a.kind {
	case obsEntries:
		b = binary.BigEndian.AppendUint32(b, uint32(len(a.entries)))
		for _, e := range a.entries {
			eb, err := proto.Marshal(e)
			if err != nil {
				return nil, err
			}
			b = binary.BigEndian.AppendUint32(b, uint32(len(eb)))
			b = append(b, eb...)
		}
	case obsSnapshot:
		sb, err := proto.Marshal(a.snap)
		if err != nil {
			return nil, err
		}
		b = append(b, sb...)
	}
	return b, nil
}

func decodeObsAnswer(b []byte) (obsAnswer, error) {
	const hdr = 1 + 8 + 8 + 8
	if len(b) < hdr {
		return obsAnswer{}, fmt.Errorf("observer answer of %d bytes", len(b))
	}
	a := obsAnswer{kind: b[0], leader: binary.BigEndian.Uint64(b[1:]), term: binary.BigEndian.Uint64(b[9:]), commit: binary.BigEndian.Uint64(b[17:])}
	b = b[hdr:]
	switch a.kind {
	case obsEntries:
		if len(b) < 4 {
			return a, errors.New("observer answer: no entry count")
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		for i := uint32(0); i < n; i++ {
			if len(b) < 4 {
				return a, errors.New("observer answer: truncated entry")
			}
			l := binary.BigEndian.Uint32(b)
			if uint64(len(b)-4) < uint64(l) {
				return a, errors.New("observer answer: truncated entry")
			}
			e := &raftpb.Entry{}
			if err := proto.Unmarshal(b[4:4+l], e); err != nil {
				return a, err
			}
			a.entries = append(a.entries, e)
			b = b[4+l:]
		}
	case obsSnapshot:
		a.snap = &raftpb.Snapshot{}
		if err := proto.Unmarshal(b, a.snap); err != nil {
			return a, err
		}
	case obsStopped:
	default:
		return a, fmt.Errorf("observer answer of kind %d", a.kind)
	}
	return a, nil
}

// ServeObserver answers one observer request (the TCP transport calls it
// for connections opened with obsMagic).
func (n *Node) ServeObserver(ctx context.Context, req []byte) ([]byte, error) {
	r, err := decodeObsRequest(req)
	if err != nil {
		return nil, err
	}
	if r.maxBytes == 0 {
		r.maxBytes = 1 << 20
	}
	deadline := time.Now().Add(min(r.wait, 10*time.Second))
	for {
		// Read the commit channel before the entries: a commit between
		// the two then wakes the wait below instead of being missed.
		moved := n.commitMoved()
		a, err := n.readCommitted(ctx, r)
		if err != nil {
			if errors.Is(err, ErrStopped) {
				return obsAnswer{kind: obsStopped}.encode()
			}
			return nil, err
		}
		if a.kind != obsEntries || len(a.entries) > 0 || !time.Now().Before(deadline) {
			return a.encode()
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-moved:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-n.done:
		}
		t.Stop()
	}
}

// readCommitted reads, on the loop goroutine (which owns the storage),
// the committed entries from r.from on, or the newest snapshot when r.from
// is behind the log's first entry.
func (n *Node) readCommitted(ctx context.Context, r obsRequest) (obsAnswer, error) {
	type result struct {
		a   obsAnswer
		err error
	}
	out := make(chan result, 1)
	f := func() {
		st := n.status.Load()
		a := obsAnswer{kind: obsEntries, leader: st.Leader, term: st.Term, commit: st.Commit}
		n.observers[r.id] = ReplicaStatus{ID: r.id, Match: r.from - 1, LastFetch: time.Now()}
		first, err := n.st.FirstIndex()
		if err != nil {
			out <- result{err: err}
			return
		}
		switch {
		case r.from < first:
			snap, err := n.st.Snapshot()
			if err != nil {
				out <- result{err: err}
				return
			}
			a.kind, a.snap = obsSnapshot, snap
		case r.from <= st.Commit:
			ents, err := n.st.Entries(r.from, st.Commit+1, uint64(r.maxBytes))
			if err != nil {
				out <- result{err: err}
				return
			}
			a.entries = ents
		}
		out <- result{a: a}
	}
	select {
	case n.readc <- f:
	case <-ctx.Done():
		return obsAnswer{}, ctx.Err()
	case <-n.done:
		return obsAnswer{}, ErrStopped
	}
	select {
	case res := <-out:
		return res.a, res.err
	case <-ctx.Done():
		return obsAnswer{}, ctx.Err()
	case <-n.done:
		return obsAnswer{}, ErrStopped
	}
}

// commitMoved returns a channel closed when the commit index next moves.
func (n *Node) commitMoved() <-chan struct{} { return *n.commitc.Load() }

// signalCommit wakes observers waiting for a commit (loop goroutine).
func (n *Node) signalCommit() {
	next := make(chan struct{})
	old := n.commitc.Swap(&next)
	close(*old)
}

// observerServer is what the TCP transport needs from its receiver to
// answer observers: a voter's Node.
type observerServer interface {
	ServeObserver(ctx context.Context, req []byte) ([]byte, error)
}

// serveObserver answers an observer's requests on c, one at a time, until
// it hangs up.
func (t *TCP) serveObserver(c net.Conn, r *bufio.Reader) {
	srv, ok := t.recv.(observerServer)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// The transport closing closes c; a long poll must not outlive it.
		select {
		case <-t.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		req, err := readFrame(r)
		if err != nil {
			return
		}
		resp, err := srv.ServeObserver(ctx, req)
		if err != nil {
			t.logger.Warn("raft transport: observer request failed", "remote", c.RemoteAddr(), "err", err)
			return
		}
		out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(resp)), uint32(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

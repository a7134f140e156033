package metadata

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-io/sluice/internal/raft"
)

// forwarder carries a follower's Append to the quorum leader, which
// validates the records against its own image and proposes them: the
// only member whose image is sure to include every committed entry.
// Admin requests reach the active controller whole, in an Envelope
// (api/58_envelope.go), and topics a broker creates itself in a
// CreateTopics (controller/remote.go); this path carries the rest, and
// those when no controller answered them.
//
// The answer is one byte of outcome and a message:
//
//	0 committed, 1 not the controller, 2 refused (the records do not
//	apply to the leader's image), 3 timed out, 4 other error
type forwarder struct{ f raft.Forwarder }

const (
	fwdOK byte = iota
	fwdNotController
	fwdRefused
	fwdTimeout
	fwdOther
)

func (w forwarder) forward(ctx context.Context, leader uint64, recs []Record) error {
	resp, err := w.f.Forward(ctx, leader, EncodeRecords(recs))
	if err != nil {
		if ctx.Err() != nil {
			return ErrTimeout
		}
		return fmt.Errorf("%w: leader %d: %v", ErrNotController, NodeID(leader), err)
	}
	if len(resp) == 0 {
		return fmt.Errorf("%w: empty answer from leader %d", ErrNotController, NodeID(leader))
	}
	msg := string(resp[1:])
	switch resp[0] {
	case fwdOK:
		return nil
	case fwdNotController:
		return ErrNotController
	case fwdTimeout:
		return ErrTimeout
	case fwdRefused:
		return fmt.Errorf("metadata: refused by the controller: %s", msg)
	}
	return fmt.Errorf("metadata: controller: %s", msg)
}

// serveForward is the leader's end: Append on behalf of a follower.
func (s *Store) serveForward(ctx context.Context, req []byte) []byte {
	answer := func(code byte, err error) []byte {
		if err == nil {
			return []byte{code}
		}
		return append([]byte{code}, err.Error()...)
	}
	recs, err := DecodeRecords(req)
	if err != nil {
		return answer(fwdRefused, err)
	}
	// Checked before taking the lock: two members that each think the
	// other leads must not wait on each other's Append.
	if !s.node.Status().IsLeader || s.closed.Load() {
		return answer(fwdNotController, nil)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.node.Status().IsLeader {
		return answer(fwdNotController, nil)
	}
	err = s.proposeLocked(ctx, recs)
	switch {
	case err == nil:
		return answer(fwdOK, nil)
	case errors.Is(err, ErrNotController):
		return answer(fwdNotController, nil)
	case errors.Is(err, ErrTimeout):
		return answer(fwdTimeout, nil)
	case errors.Is(err, ErrClosed):
		return answer(fwdNotController, nil)
	}
	return answer(fwdRefused, err)
}

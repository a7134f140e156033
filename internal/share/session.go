package share

import (
	"math"
	"slices"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TP names a partition by topic ID.
type TP struct {
	TopicID   [16]byte
	Partition int32
}

type sessionKey struct{ group, member string }

// session is a share session (KIP-932's share session cache entry): the
// partitions a member fetches from this broker and the epoch its next
// request must carry.
//
// INVARIANT: at most one session per (group, member); epoch is the next
// expected request epoch, >= 1.
type session struct {
	key   sessionKey
	epoch int32
	parts map[TP]struct{}
	done  chan struct{} // closed when the session ends (stops the connection watch)
	// ended is set (under m.mu, as the session leaves m.sessions) before
	// the member's records are released; Acquire reads it under the
	// share-partition's lock, so a fetch that still holds the session
	// either acquires before the release (which then releases it) or
	// sees ended and acquires nothing.
	ended atomic.Bool
}

// endLocked takes s out of the session map (m.mu held) and marks it ended.
func (m *Manager) endLocked(s *session) {
	if m.sessions[s.key] == s {
		delete(m.sessions, s.key)
	}
	s.ended.Store(true)
}

// SessionRef names one share session (not just its member: a member's
// later session is another one), for Acquire to check it is still open.
type SessionRef struct{ s *session }

// Session returns member's current session; the zero SessionRef (never
// live) when it has none.
func (m *Manager) Session(group, member string) SessionRef {
	m.mu.Lock()
	defer m.mu.Unlock()
	return SessionRef{m.sessions[sessionKey{group, member}]}
}

// Live reports whether the session is still open.
func (r SessionRef) Live() bool { return r.s != nil && !r.s.ended.Load() }

func (s *session) stopWatch() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

func (s *session) list() []TP {
	out := make([]TP, 0, len(s.parts))
	for tp := range s.parts {
		out = append(out, tp)
	}
	slices.SortFunc(out, func(a, b TP) int {
		if c := slices.Compare(a.TopicID[:], b.TopicID[:]); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

func nextEpoch(e int32) int32 {
	if e == math.MaxInt32 {
		return 1 // as Kafka wraps it
	}
	return e + 1
}

// FetchSession applies a ShareFetch's session part (epoch 0 or > 0; -1 is
// CloseSession): epoch 0 opens a session with add (replacing one the
// member had, whose records are released), a later epoch must match and
// adds add and removes forget. The session ends by itself when connDone
// closes (the connection that opened it went away), releasing the
// member's records. It returns the session's partitions after the update,
// in a stable order, and the epoch the request carried.
func (m *Manager) FetchSession(group, member string, epoch int32, add, forget []TP, connDone <-chan struct{}) ([]TP, int16) {
	k := sessionKey{group, member}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	if epoch == 0 {
		old := m.sessions[k]
		if old == nil && len(m.sessions) >= m.cfg.MaxSessions {
			m.mu.Unlock()
			return nil, kerr.ShareSessionLimitReached.Code
		}
		s := &session{key: k, epoch: 1, parts: map[TP]struct{}{}, done: make(chan struct{})}
		for _, tp := range add {
			s.parts[tp] = struct{}{}
		}
		if old != nil {
			m.endLocked(old)
		}
		m.sessions[k] = s
		list := s.list()
		m.watchConn(s, connDone) // under m.mu: Close cannot have started waiting
		m.mu.Unlock()
		if old != nil {
			old.stopWatch()
			m.releaseMember(group, member, old.list())
		}
		return list, 0
	}
	s := m.sessions[k]
	if s == nil {
		m.mu.Unlock()
		return nil, kerr.ShareSessionNotFound.Code
	}
	if s.epoch != epoch {
		m.mu.Unlock()
		return nil, kerr.InvalidShareSessionEpoch.Code
	}
	s.epoch = nextEpoch(s.epoch)
	for _, tp := range add {
		s.parts[tp] = struct{}{}
	}
	for _, tp := range forget {
		delete(s.parts, tp)
	}
	list := s.list()
	m.mu.Unlock()
	return list, 0
}

// AckSession checks a ShareAcknowledge's epoch (> 0) against the member's
// session and moves it on. Epoch 0 is INVALID_SHARE_SESSION_EPOCH (only a
// ShareFetch opens a session); -1 is CloseSession.
func (m *Manager) AckSession(group, member string, epoch int32) int16 {
	if epoch == 0 {
		return kerr.InvalidShareSessionEpoch.Code
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[sessionKey{group, member}]
	switch {
	case s == nil:
		return kerr.ShareSessionNotFound.Code
	case s.epoch != epoch:
		return kerr.InvalidShareSessionEpoch.Code
	}
	s.epoch = nextEpoch(s.epoch)
	return 0
}

// HasSession reports whether member has a share session (the check a
// closing request makes before it acknowledges anything).
func (m *Manager) HasSession(group, member string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[sessionKey{group, member}] != nil
}

// CloseSession ends member's session (epoch -1), releasing the records it
// still holds in the session's share-partitions.
func (m *Manager) CloseSession(group, member string) int16 {
	k := sessionKey{group, member}
	m.mu.Lock()
	s := m.sessions[k]
	if s == nil {
		m.mu.Unlock()
		return kerr.ShareSessionNotFound.Code
	}
	m.endLocked(s)
	m.mu.Unlock()
	s.stopWatch()
	m.releaseMember(group, member, s.list())
	return 0
}

// MemberLeft implements MemberListener: member left group or was fenced.
// Its session ends now; the records it holds in any of group's
// share-partitions are released (durably) on another goroutine, as the
// caller is the coordinator's shard loop.
func (m *Manager) MemberLeft(group, member string) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	s := m.sessions[sessionKey{group, member}]
	if s != nil {
		m.endLocked(s)
	}
	var parts []TP
	for k := range m.parts {
		if k.group == group {
			parts = append(parts, TP{k.topicID, k.partition})
		}
	}
	m.wg.Add(1) // under m.mu: Close cannot have started waiting
	m.mu.Unlock()
	if s != nil {
		s.stopWatch()
	}
	go func() {
		defer m.wg.Done()
		m.releaseMember(group, member, parts)
	}()
}

// Sessions is the number of open share sessions.
func (m *Manager) Sessions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// watchConn ends s when its connection closes, as Kafka's share session
// cache does on disconnect.
func (m *Manager) watchConn(s *session, connDone <-chan struct{}) {
	if connDone == nil {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		select {
		case <-s.done:
			return
		case <-m.stop:
			return
		case <-connDone:
		}
		m.mu.Lock()
		if m.sessions[s.key] != s {
			m.mu.Unlock()
			return
		}
		m.endLocked(s)
		m.mu.Unlock()
		s.stopWatch()
		m.releaseMember(s.key.group, s.key.member, s.list())
	}()
}

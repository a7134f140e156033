package console

import (
	"sync"
	"time"
)

// lagHistory keeps each group's total lag as seen by its page's renders
// (the page refreshes itself every few seconds when asked), for the
// group's lag chart: at most maxLagSamples per group and maxLagGroups
// groups, the least recently viewed dropped first. Nothing polls groups
// in the background.
type lagHistory struct {
	mu     sync.Mutex
	groups map[string]*lagSeries
}

type lagSeries struct {
	samples []float64
	last    time.Time
}

const (
	maxLagSamples = 60
	maxLagGroups  = 256
	// lagRefresh is the group page's refresh period when auto-refresh is on.
	lagRefresh = 5
)

func newLagHistory() *lagHistory { return &lagHistory{groups: map[string]*lagSeries{}} }

// add records one total lag of group and returns the series so far.
func (h *lagHistory) add(group string, lag int64) []float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.groups[group]
	if s == nil {
		for len(h.groups) >= maxLagGroups {
			var oldest string
			var at time.Time
			for g, o := range h.groups {
				if oldest == "" || o.last.Before(at) {
					oldest, at = g, o.last
				}
			}
			delete(h.groups, oldest)
		}
		s = &lagSeries{}
		h.groups[group] = s
	}
	s.last = time.Now()
	s.samples = appendRing(s.samples, float64(lag), maxLagSamples)
	return append([]float64(nil), s.samples...)
}

package console

import (
	"context"
	"sync"
	"time"
)

// lagHistory keeps, for each group a user viewed, its total lag over
// time for the group's lag chart. The page's first view records one
// sample; after that the background sampler (lagsampler.go) adds one
// every lagSampleEvery while the page was viewed in the last lagWatch.
//
// Series are per viewer (session) and group: each is sampled through its
// viewer's own client, so a chart only shows what that user may describe,
// and a logged-out user's series goes with the session. Bounded: at most
// maxLagSamples per series and maxLagGroups series, the least recently
// viewed dropped first, so the sampler's work does not grow with the
// cluster, only with what people look at.
type lagHistory struct {
	mu     sync.Mutex
	series map[lagKey]*lagSeries
}

type lagKey struct {
	session, group string
}

type lagSeries struct {
	se      *session
	share   bool // a share group: lag from DescribeShareGroupOffsets
	samples []float64
	viewed  time.Time // the page's last view
}

const (
	maxLagSamples = 60
	maxLagGroups  = 32
	// lagWatch is how long after a page's last view its group is sampled.
	lagWatch = 10 * time.Minute
	// lagRefresh is the group page's refresh period when auto-refresh is on.
	lagRefresh = 5
)

// lagSampleEvery is the sampling period (5 s): a variable so tests can
// shorten it (export_test.go); read once by Start.
var lagSampleEvery = 5 * time.Second

func newLagHistory() *lagHistory { return &lagHistory{series: map[lagKey]*lagSeries{}} }

// view records a view of group's page by se, with the lag the page
// computed: the first sample of a new series, later ones come from the
// sampler. It returns the series so far.
func (h *lagHistory) view(se *session, group string, share bool, lag int64) []float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := lagKey{se.id, group}
	s := h.series[k]
	if s == nil {
		for len(h.series) >= maxLagGroups {
			var oldest lagKey
			var at time.Time
			first := true
			for k, o := range h.series {
				if first || o.viewed.Before(at) {
					oldest, at, first = k, o.viewed, false
				}
			}
			delete(h.series, oldest)
		}
		s = &lagSeries{se: se, share: share, samples: []float64{float64(lag)}}
		h.series[k] = s
	}
	s.viewed, s.share = time.Now(), share // a group deleted and made again may change kind
	return append([]float64(nil), s.samples...)
}

// samples is se's series of group (nil when there is none); it is not a
// view.
func (h *lagHistory) samples(se *session, group string) []float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.series[lagKey{se.id, group}]; s != nil {
		return append([]float64(nil), s.samples...)
	}
	return nil
}

// lagTarget is one series the sampler should sample now.
type lagTarget struct {
	key   lagKey
	se    *session
	share bool
}

// due lists the series viewed within lagWatch whose session is still
// open; series of ended sessions are dropped.
func (h *lagHistory) due(now time.Time) []lagTarget {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ts []lagTarget
	for k, s := range h.series {
		switch {
		case s.se.ended():
			delete(h.series, k)
		case now.Sub(s.viewed) <= lagWatch:
			ts = append(ts, lagTarget{key: k, se: s.se, share: s.share})
		}
	}
	return ts
}

// add appends a sample to a series, if it still exists.
func (h *lagHistory) add(k lagKey, lag int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.series[k]; s != nil {
		s.samples = appendRing(s.samples, float64(lag), maxLagSamples)
	}
}

// sampleLags is the background lag sampler: every lagSampleEvery it
// samples the total lag of each watched series through its viewer's
// client, with the page's own lag functions. It returns when the console
// stops (Close waits for it).
func (s *Server) sampleLags(every time.Duration) {
	ctx, cancel := s.untilStop()
	defer cancel()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			for _, tg := range s.lags.due(now) {
				if ctx.Err() != nil {
					return
				}
				s.sampleLag(ctx, tg, every)
			}
		}
	}
}

// sampleLag takes one sample; a failed one is skipped (the chart shows a
// gap in time, not a wrong value).
func (s *Server) sampleLag(ctx context.Context, tg lagTarget, every time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, max(every, 2*time.Second))
	defer cancel()
	var lag int64
	var err error
	if tg.share {
		lag, err = shareGroupLag(ctx, tg.se.adm, tg.key.group)
	} else {
		var l groupLag
		if l, err = consumerGroupLag(ctx, tg.se.adm, tg.key.group); err == nil {
			lag = l.Lag.Total()
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Debug("lag sample", "group", tg.key.group, "err", err)
		}
		return
	}
	s.lags.add(tg.key, lag)
}

package console

import (
	"sync"
	"time"
)

// rateHistory keeps the records/s and bytes/s series of the topics page,
// the topic page and the overview. A view registers what it shows; the
// background sampler (ratesampler.go) takes the first sample at once and
// then one every rateSampleEvery while the page was viewed in the last
// rateWatch, so a rate shows from the second sample on.
//
// A series is one viewer's (session's) topic, or with topic "" that
// viewer's whole cluster (every partition it may describe): sampled
// through the viewer's own client, so the broker's ACLs apply as on the
// pages, and dropped with the session. Bounded: at most maxRateTopics
// topic series and maxClusterSeries cluster series, the least recently
// viewed of the kind dropped first, each a ring of maxRateSamples rates.
type rateHistory struct {
	mu     sync.Mutex
	series map[rateKey]*rateSeries
	kick   chan struct{} // capacity 1: a new series waits for its first sample
}

type rateKey struct {
	session, topic string // topic "": the cluster
}

// tp is one partition.
type tp struct {
	topic     string
	partition int32
}

type rateSeries struct {
	se     *session
	viewed time.Time // the page's last view

	// The last sample: when, each partition's end offset (partitions whose
	// leader did not answer are left out), the topic's size on disk.
	at        time.Time // zero before the first sample
	offsets   map[tp]int64
	size      int64
	sizeKnown bool

	recs  []float64 // records/s between samples, oldest first
	bytes []float64 // bytes/s, -1 where a size was unknown
}

const (
	maxRateSamples   = 60
	maxRateTopics    = 100 // two full topics pages
	maxClusterSeries = 4   // every one lists all partitions' offsets
	// rateWatch is how long after a page's last view it is sampled.
	rateWatch = 10 * time.Minute
)

// rateSampleEvery is the sampling period (5 s): a variable so tests can
// shorten it (export_test.go); read once by Start.
var rateSampleEvery = 5 * time.Second

func newRateHistory() *rateHistory {
	return &rateHistory{series: map[rateKey]*rateSeries{}, kick: make(chan struct{}, 1)}
}

// topicRate is the latest rates of a topic for a page.
type topicRate struct {
	Known      bool // two samples exist
	Records    float64
	BytesKnown bool
	Bytes      float64
	Chart      chart // records/s over time (topic page)
}

// viewTopics records a view of topics by se and returns their latest
// rates.
func (h *rateHistory) viewTopics(se *session, topics ...string) map[string]topicRate {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]topicRate, len(topics))
	for _, t := range topics {
		s := h.touch(rateKey{se.id, t}, se, maxRateTopics)
		r := topicRate{Known: len(s.recs) > 0}
		if r.Known {
			r.Records = s.recs[len(s.recs)-1]
			r.Bytes = s.bytes[len(s.bytes)-1]
			r.BytesKnown = r.Bytes >= 0
		}
		r.Chart = recordsChart("Records in", s.recs)
		out[t] = r
	}
	return out
}

// viewCluster records a view of the overview by se and returns the
// cluster's records/s so far.
func (h *rateHistory) viewCluster(se *session) []float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]float64(nil), h.touch(rateKey{se.id, ""}, se, maxClusterSeries).recs...)
}

// touch marks k viewed now, making its series (and room for it, within
// limit series of its kind) if it has none. h.mu is held.
func (h *rateHistory) touch(k rateKey, se *session, limit int) *rateSeries {
	s := h.series[k]
	if s == nil {
		for {
			var oldest rateKey
			n, first := 0, true
			for ok, o := range h.series {
				if (ok.topic == "") != (k.topic == "") {
					continue
				}
				n++
				if first || o.viewed.Before(h.series[oldest].viewed) {
					oldest, first = ok, false
				}
			}
			if n < limit {
				break
			}
			delete(h.series, oldest)
		}
		s = &rateSeries{se: se}
		h.series[k] = s
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
	s.viewed = time.Now()
	return s
}

// rateWork is what the sampler asks of one session in one round.
type rateWork struct {
	se      *session
	cluster bool
	topics  []string
}

// due lists, per session, the series to sample now: watched ones whose
// last sample is at least half a period old (or, firstOnly, only those
// never sampled). Series of ended sessions are dropped.
func (h *rateHistory) due(now time.Time, every time.Duration, firstOnly bool) []rateWork {
	h.mu.Lock()
	defer h.mu.Unlock()
	bySession := map[string]*rateWork{}
	var out []*rateWork
	for k, s := range h.series {
		switch {
		case s.se.ended():
			delete(h.series, k)
			continue
		case now.Sub(s.viewed) > rateWatch:
			continue
		case firstOnly && !s.at.IsZero(), !s.at.IsZero() && now.Sub(s.at) < every/2:
			continue
		}
		w := bySession[k.session]
		if w == nil {
			w = &rateWork{se: s.se}
			bySession[k.session] = w
			out = append(out, w)
		}
		if k.topic == "" {
			w.cluster = true
		} else {
			w.topics = append(w.topics, k.topic)
		}
	}
	ws := make([]rateWork, len(out))
	for i, w := range out {
		ws[i] = *w
	}
	return ws
}

// add records a sample of k taken at now: the end offsets of its
// partitions and (topics) its size, sizeKnown false when unknown.
func (h *rateHistory) add(k rateKey, now time.Time, offsets map[tp]int64, size int64, sizeKnown bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.series[k]
	if s == nil {
		return
	}
	if !s.at.IsZero() {
		dt := now.Sub(s.at).Seconds()
		// Per partition, so a partition deleted or not answering (absent
		// from one of the two samples) does not count as a drop or jump;
		// a recreated topic's smaller offsets count 0, not negative.
		var n int64
		for p, o := range offsets {
			if prev, ok := s.offsets[p]; ok && o > prev {
				n += o - prev
			}
		}
		s.recs = appendRing(s.recs, float64(n)/dt, maxRateSamples)
		// Retention and compaction shrink a log: the size's delta is then
		// negative and says nothing of what came in, so it counts 0.
		b := -1.0
		if sizeKnown && s.sizeKnown {
			b = float64(max(size-s.size, 0)) / dt
		}
		s.bytes = appendRing(s.bytes, b, maxRateSamples)
	}
	s.at, s.offsets, s.size, s.sizeKnown = now, offsets, size, sizeKnown
}

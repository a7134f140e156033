package console

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// sampleRates is the background rate sampler: every rateSampleEvery it
// samples each watched series (topicrates.go), and a new series at once.
// Per session and round: one Metadata request (every topic if the
// overview is watched, else the watched topics), one ListOffsets of the
// latest offsets (kgo sends one request per leader broker) and, for
// watched topics, one DescribeLogDirs per broker for their sizes. It
// returns when the console stops (Close waits for it).
func (s *Server) sampleRates(every time.Duration) {
	ctx, cancel := s.untilStop()
	defer cancel()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var ws []rateWork
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			ws = s.topicRates.due(now, every, false)
		case <-s.topicRates.kick:
			ws = s.topicRates.due(time.Now(), every, true)
		}
		for _, w := range ws {
			if ctx.Err() != nil {
				return
			}
			s.sampleRate(ctx, w, every)
		}
	}
}

// sampleRate takes one session's samples; what fails is skipped (the
// chart shows a gap in time, not a wrong value).
func (s *Server) sampleRate(ctx context.Context, w rateWork, every time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, sessionKey{}, w.se), max(every, 5*time.Second))
	defer cancel()
	var md kadm.Metadata
	var err error
	if w.cluster {
		md, err = w.se.adm.Metadata(ctx)
	} else {
		md, err = w.se.adm.Metadata(ctx, w.topics...)
	}
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Debug("rate sample", "err", err)
		}
		return
	}
	parts := map[string][]int32{}
	for name, t := range md.Topics {
		if t.Err != nil {
			continue
		}
		for id := range t.Partitions {
			parts[name] = append(parts[name], id)
		}
	}
	offs := s.listTopicsOffsets(ctx, parts, -1)
	var sizes map[string]int64
	if len(w.topics) > 0 {
		set := kadm.TopicsSet{}
		for _, name := range w.topics {
			for _, p := range parts[name] {
				set.Add(name, p)
			}
		}
		if len(set) > 0 {
			sizes = s.topicSizes(ctx, set)
		}
	}
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	answered := func(topic string, into map[tp]int64) {
		for p, o := range offs[topic] {
			if o.err == nil && o.offset >= 0 {
				into[tp{topic, p}] = o.offset
			}
		}
	}
	if w.cluster {
		all := make(map[tp]int64, len(parts))
		for topic := range offs {
			answered(topic, all)
		}
		s.topicRates.add(rateKey{w.se.id, ""}, now, all, 0, false)
	}
	for _, topic := range w.topics {
		m := map[tp]int64{}
		answered(topic, m)
		size, known := sizes[topic]
		s.topicRates.add(rateKey{w.se.id, topic}, now, m, size, known)
	}
}

// untilStop is a context that ends when the console stops (or cancel is
// called), for a background sampler's requests.
func (s *Server) untilStop() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

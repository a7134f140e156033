package console

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// rates keeps the last n throughput samples (bytes/s in and out) for the
// overview's sparklines: a fixed ring, so memory does not grow.
type rates struct {
	mu      sync.Mutex
	in, out []float64 // oldest first, at most n
	n       int
}

func newRates(n int) *rates { return &rates{n: n} }

func (r *rates) add(in, out float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.in = appendRing(r.in, in, r.n)
	r.out = appendRing(r.out, out, r.n)
}

func appendRing(xs []float64, x float64, n int) []float64 {
	if len(xs) == n {
		copy(xs, xs[1:])
		xs = xs[:n-1]
	}
	return append(xs, x)
}

func (r *rates) snapshot() (in, out []float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]float64(nil), r.in...), append([]float64(nil), r.out...)
}

// sample turns the cumulative byte counters into rates every SampleEvery.
func (s *Server) sample() {
	if s.cfg.Throughput == nil {
		return
	}
	t := time.NewTicker(s.cfg.SampleEvery)
	defer t.Stop()
	lastIn, lastOut := s.cfg.Throughput()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			in, out := s.cfg.Throughput()
			secs := now.Sub(last).Seconds()
			s.rates.add(max(in-lastIn, 0)/secs, max(out-lastOut, 0)/secs)
			lastIn, lastOut, last = in, out, now
		}
	}
}

// chart is one sparkline for a template.
type chart struct {
	Label  string
	Now    string // latest rate, human
	Points string // SVG polyline points
	Empty  bool
}

const chartW, chartH = 240, 40

// sparkline draws xs (bytes/s) scaled to the chart box.
func sparkline(label string, xs []float64) chart {
	c := drawChart(label, xs)
	if len(xs) > 0 {
		c.Now = humanBytes(int64(xs[len(xs)-1])) + "/s"
	}
	return c
}

// recordsChart draws xs (records/s).
func recordsChart(label string, xs []float64) chart {
	c := drawChart(label, xs)
	if len(xs) > 0 {
		c.Now = perSecond(xs[len(xs)-1]) + " records/s"
	}
	return c
}

// perSecond is a rate for a page: one decimal below 10, whole above.
func perSecond(x float64) string {
	if x < 10 {
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.0f", x)
}

// drawChart scales xs to the chart box; Now is the last value.
func drawChart(label string, xs []float64) chart {
	c := chart{Label: label, Empty: len(xs) < 2, Now: "no samples yet"}
	if len(xs) == 0 {
		return c
	}
	c.Now = fmt.Sprint(int64(xs[len(xs)-1]))
	top := 1.0
	for _, x := range xs {
		top = max(top, x)
	}
	var b strings.Builder
	step := float64(chartW) / float64(max(len(xs)-1, 1))
	for i, x := range xs {
		fmt.Fprintf(&b, "%.1f,%.1f ", float64(i)*step, chartH-1-(x/top)*(chartH-2))
	}
	c.Points = strings.TrimSpace(b.String())
	return c
}

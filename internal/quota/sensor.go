package quota

import (
	"math"
	"sync"
	"time"
)

// Sensor is a sampled rate, as Kafka's Rate over a SampledStat: Samples
// samples of Window each. A sample collects what is recorded while it is
// current; once Window has passed since it started, the next record starts
// the next sample (reusing the oldest). Samples older than Samples×Window
// count as empty. The rate is the sum of the samples over the elapsed time
// since the oldest one started, but never over less than (Samples−1)×Window,
// so a burst on a new sensor is spread over the whole window as in Kafka.
type Sensor struct {
	mu      sync.Mutex
	window  int64 // ms
	samples []sample
	cur     int
	n       int
}

type sample struct {
	start int64 // ms: the sample's window start
	value float64
}

// NewSensor returns a sensor of n samples of window each (n ≥ 1, window ≥ 1ms).
func NewSensor(n int, window time.Duration) *Sensor {
	return &Sensor{window: max(window.Milliseconds(), 1), n: max(n, 1)}
}

// record adds v at nowMs. Callers hold mu.
func (s *Sensor) record(v float64, nowMs int64) {
	if len(s.samples) == 0 {
		s.samples = append(s.samples, sample{start: nowMs})
	}
	if nowMs-s.samples[s.cur].start >= s.window {
		s.cur = (s.cur + 1) % s.n
		if s.cur >= len(s.samples) {
			s.samples = append(s.samples, sample{start: nowMs})
		} else {
			s.samples[s.cur] = sample{start: nowMs}
		}
	}
	s.samples[s.cur].value += v
}

// purge empties samples that fell out of the whole window.
func (s *Sensor) purge(nowMs int64) {
	expire := int64(s.n) * s.window
	for i := range s.samples {
		if nowMs-s.samples[i].start >= expire {
			s.samples[i] = sample{start: nowMs}
		}
	}
}

// windowMs is the time the rate divides by (Kafka's Rate.windowSize).
func (s *Sensor) windowMs(nowMs int64) int64 {
	s.purge(nowMs)
	oldest := nowMs
	for _, x := range s.samples {
		oldest = min(oldest, x.start)
	}
	elapsed := nowMs - oldest
	if full, need := elapsed/s.window, int64(s.n-1); full < need {
		elapsed += (need - full) * s.window
	}
	return max(elapsed, 1)
}

// rate returns the rate per second at nowMs and the window it used. Callers
// hold mu.
func (s *Sensor) rate(nowMs int64) (float64, int64) {
	w := s.windowMs(nowMs)
	var total float64
	for _, x := range s.samples {
		total += x.value
	}
	return total / (float64(w) / 1000), w
}

// Rate is the current rate per second.
func (s *Sensor) Rate(now time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, _ := s.rate(now.UnixMilli())
	return r
}

// Record adds v at now and, when the rate then exceeds bound, returns the
// throttle time (ThrottleTime); 0 otherwise.
func (s *Sensor) Record(v, bound float64, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := now.UnixMilli()
	s.record(v, ms)
	r, w := s.rate(ms)
	return ThrottleTime(r, bound, w, int64(s.n)*s.window)
}

// Throttle is the throttle time the rate at now already calls for against
// bound, without recording anything (0 within the bound).
func (s *Sensor) Throttle(bound float64, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, w := s.rate(now.UnixMilli())
	return ThrottleTime(r, bound, w, int64(s.n)*s.window)
}

// Unrecord takes back v recorded at now (a throttled fetch sends nothing).
func (s *Sensor) Unrecord(v float64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record(-v, now.UnixMilli())
}

// ThrottleTime is Kafka's throttle time for an observed rate over a bound:
// the delay X that brings the rate back to the bound if nothing more is
// recorded, observed×W/(W+X) = bound, so X = (observed−bound)/bound×W,
// with W the window the rate was measured over (ms), rounded to the
// millisecond. Sluice caps it at capMs (the whole sampled window); Kafka's
// ClientQuotaManager does not cap it, but with the (Samples−1)×Window
// floor on W the cap only matters for a single request worth more than the
// whole window. 0 when observed ≤ bound.
func ThrottleTime(observed, bound float64, windowMs, capMs int64) time.Duration {
	if !(observed > bound) || bound <= 0 {
		return 0
	}
	ms := math.Round((observed - bound) / bound * float64(windowMs))
	if capMs > 0 && ms > float64(capMs) {
		ms = float64(capMs)
	}
	return time.Duration(ms) * time.Millisecond
}

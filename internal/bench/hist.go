package bench

import (
	"math"
	"math/bits"
	"time"
)

// Hist is a log-bucketed latency histogram in the spirit of HdrHistogram:
// values below 2^histSubBits are counted exactly; above that, every power
// of two is split into 2^histSubBits equal buckets, so any recorded value
// is known to within a relative error of 2^-histSubBits (0.78%). The
// counts array covers the whole int64 range and never grows: memory is
// fixed at about 57 KiB whatever is recorded.
//
// Hist is not safe for concurrent use; give each goroutine its own and
// Merge them, or guard one with a mutex.
type Hist struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      float64
	min, max int64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits) * histSub // int64 values have at most 63 bits
)

// histIndex maps v >= 0 to its bucket. For v < histSub the bucket is v
// itself. Otherwise, with n the bit length of v, the top histSubBits+1
// bits of v (the leading 1 and histSubBits more) form a mantissa m in
// [histSub, 2*histSub), and the bucket is shift*histSub + m, where shift
// = n - histSubBits - 1 is how many low bits were dropped. Consecutive
// shifts tile the index space without gaps.
func histIndex(v int64) int {
	u := uint64(v)
	if u < histSub {
		return int(u)
	}
	shift := bits.Len64(u) - histSubBits - 1
	return shift*histSub + int(u>>uint(shift))
}

// histBounds is the inclusive value range of bucket i.
func histBounds(i int) (lo, hi int64) {
	if i < histSub {
		return int64(i), int64(i)
	}
	shift := i>>histSubBits - 1
	m := uint64(i - shift*histSub)
	lo = int64(m << uint(shift))
	hiU := (m+1)<<uint(shift) - 1
	if hiU > math.MaxInt64 {
		hiU = math.MaxInt64
	}
	return lo, int64(hiU)
}

// Record adds one value; negative values count as 0.
func (h *Hist) Record(v int64) {
	if v < 0 {
		v = 0
	}
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.counts[histIndex(v)]++
	h.n++
	h.sum += float64(v)
}

// RecordDuration adds d in nanoseconds.
func (h *Hist) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Merge adds every value of o to h.
func (h *Hist) Merge(o *Hist) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
}

// Count is how many values were recorded.
func (h *Hist) Count() uint64 { return h.n }

// Min and Max are exact.
func (h *Hist) Min() int64 { return h.min }

// Max is the largest value recorded, exactly.
func (h *Hist) Max() int64 { return h.max }

// Mean is exact up to float rounding.
func (h *Hist) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Quantile returns the value at quantile q in [0, 1]: the smallest
// recorded value v such that at least ceil(q*n) values are <= v, to within
// the bucket precision. It reports the top of the bucket holding that
// value (as HdrHistogram does, so a quantile never under-states), clamped
// to the exact min and max.
func (h *Hist) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	if q <= 0 {
		return h.min
	}
	if q >= 1 {
		return h.max
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += c
		if seen >= rank {
			_, hi := histBounds(i)
			return min(max(hi, h.min), h.max)
		}
	}
	return h.max
}

// Summary is the handful of figures a report prints.
type Summary struct {
	Count               uint64
	Min, Mean           time.Duration
	P50, P99, P999, Max time.Duration
}

// Summarize returns count, min, mean, p50, p99, p99.9 and max as durations.
func (h *Hist) Summarize() Summary {
	return Summary{
		Count: h.n,
		Min:   time.Duration(h.min),
		Mean:  time.Duration(h.Mean()),
		P50:   time.Duration(h.Quantile(0.50)),
		P99:   time.Duration(h.Quantile(0.99)),
		P999:  time.Duration(h.Quantile(0.999)),
		Max:   time.Duration(h.max),
	}
}

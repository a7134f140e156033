package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// exactQuantile is the reference: the ceil(q*n)-th smallest value.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestHistIndexTilesRange(t *testing.T) {
	// Every bucket's bounds map back to it, and buckets are contiguous.
	var prevHi int64 = -1
	for i := 0; i < histBuckets; i++ {
		lo, hi := histBounds(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if histIndex(lo) != i || histIndex(hi) != i {
			t.Fatalf("bucket %d [%d,%d] maps back to %d/%d", i, lo, hi, histIndex(lo), histIndex(hi))
		}
		prevHi = hi
		if hi == math.MaxInt64 {
			if i != histBuckets-1 {
				t.Fatalf("range ends early at bucket %d of %d", i, histBuckets)
			}
			return
		}
	}
	t.Fatalf("buckets end at %d, short of MaxInt64", prevHi)
}

func TestHistSmallValuesExact(t *testing.T) {
	var h Hist
	for v := int64(1); v <= 100; v++ {
		h.Record(v)
	}
	for _, c := range []struct {
		q    float64
		want int64
	}{{0.01, 1}, {0.5, 50}, {0.99, 99}, {0.999, 100}, {1, 100}, {0, 1}} {
		if got := h.Quantile(c.q); got != c.want {
			t.Errorf("q%.3f = %d, want %d", c.q, got, c.want)
		}
	}
	if h.Count() != 100 || h.Min() != 1 || h.Max() != 100 || h.Mean() != 50.5 {
		t.Errorf("count/min/max/mean = %d/%d/%d/%v", h.Count(), h.Min(), h.Max(), h.Mean())
	}
}

func TestHistQuantilesWithinPrecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() int64{
		"uniform-ms": func() int64 { return rng.Int64N(10_000_000) },
		// Log-normal around 1ms with a long tail, like real latencies.
		"lognormal": func() int64 { return int64(math.Exp(rng.NormFloat64()*1.5 + 13.8)) },
		"bimodal": func() int64 {
			if rng.IntN(100) == 0 {
				return 200_000_000 + rng.Int64N(50_000_000)
			}
			return 300_000 + rng.Int64N(100_000)
		},
	}
	tol := 1.0 / histSub
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			var h Hist
			vals := make([]int64, 200_000)
			for i := range vals {
				vals[i] = gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999} {
				want := exactQuantile(vals, q)
				got := h.Quantile(q)
				// Reported value is the top of the true value's bucket:
				// never below it and at most one bucket width above.
				if got < want || float64(got-want) > tol*float64(want)+1 {
					t.Errorf("q%v = %d, exact %d (rel err %.4f, tolerance %.4f)",
						q, got, want, float64(got-want)/float64(want), tol)
				}
			}
			if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] {
				t.Errorf("min/max %d/%d, want %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
			}
		})
	}
}

func TestHistMergeEqualsCombined(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var a, b, all Hist
	for i := 0; i < 50_000; i++ {
		v := rng.Int64N(1 << 40)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
		all.Record(v)
	}
	a.Merge(&b)
	if a.counts != all.counts || a.Count() != all.Count() || a.Min() != all.Min() || a.Max() != all.Max() {
		t.Fatal("merged histogram differs from the combined one")
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%v: merged %d, combined %d", q, a.Quantile(q), all.Quantile(q))
		}
	}
}

func TestHistEdges(t *testing.T) {
	var h Hist
	if h.Quantile(0.5) != 0 || h.Count() != 0 {
		t.Fatal("empty histogram should report zeros")
	}
	h.Record(-5) // clamps to 0
	h.Record(math.MaxInt64)
	if h.Min() != 0 || h.Max() != math.MaxInt64 {
		t.Fatalf("min/max %d/%d", h.Min(), h.Max())
	}
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("p50 of {0, max} = %d, want 0", got)
	}
	if got := h.Quantile(0.99); got != math.MaxInt64 {
		t.Errorf("p99 of {0, max} = %d, want max", got)
	}
	// A single value reports itself exactly at every quantile (clamping).
	var one Hist
	one.Record(123_456_789)
	for _, q := range []float64{0, 0.5, 0.999, 1} {
		if got := one.Quantile(q); got != 123_456_789 {
			t.Errorf("single value q%v = %d", q, got)
		}
	}
}

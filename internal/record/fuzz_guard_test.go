// Every fuzz input runs under a guard. A decoder that stalls on an input
// would otherwise stall the whole run with nothing recorded, and one that
// allocates by what an input claims rather than what it holds would only
// show as a slow run or an OOM kill. The guard turns both into failures the
// fuzzer records with the input: a watchdog panics (which crashes the
// worker, and `go test -fuzz` then saves the input as a crasher) when one
// input runs past fuzzInputTimeout, and the bytes the input allocated are
// checked against a budget derived from the limit, never from the input's
// claims.

package record

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

const (
	// fuzzLimit is the decompression limit the fuzz targets run under
	// (MaxDecompressed for FuzzValidate and FuzzRecords): small, so that
	// an input that really inflates stops quickly.
	fuzzLimit = 256 << 10
	// fuzzInputTimeout is generous: a legitimate input under fuzzLimit
	// decodes in milliseconds even with coverage instrumentation.
	fuzzInputTimeout = 10 * time.Second
)

// guard runs fn (which may call t.Fatal) and fails t when it allocates more
// than budget bytes; it crashes the process when fn runs past
// fuzzInputTimeout.
func guard(t *testing.T, budget uint64, fn func()) {
	t.Helper()
	watchdog := time.AfterFunc(fuzzInputTimeout, func() {
		panic(fmt.Sprintf("fuzz input still running after %v: a decoder is stalling", fuzzInputTimeout))
	})
	defer watchdog.Stop()
	before := allocatedBytes()
	fn()
	if got := allocatedBytes() - before; got > budget {
		t.Fatalf("input allocated %d bytes, budget %d: something is sized by what the input claims", got, budget)
	}
}

// allocatedBytes is the process's cumulative heap allocation. It is read
// with runtime.ReadMemStats, which stops the world for a few microseconds;
// runtime/metrics would not, but its code is instrumented for coverage and
// takes different paths from call to call, which the fuzzer sees as new
// coverage it can never reproduce, and it then spends its time minimizing.
func allocatedBytes() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// fuzzBudget is what one fuzz input may allocate when it runs decodes
// decompressions under fuzzLimit (each at most allocBound) plus work
// proportional to its own size (copies, rebuilds, recompression) and the
// encoders' state when their pools are cold.
func fuzzBudget(decodes, inputLen int) uint64 {
	return uint64(decodes)*allocBound(fuzzLimit) + 32*uint64(inputLen) + 32<<20
}

// withFuzzLimit makes MaxDecompressed fuzzLimit for the rest of f.
func withFuzzLimit(f *testing.F) {
	old := MaxDecompressed
	MaxDecompressed = fuzzLimit
	f.Cleanup(func() { MaxDecompressed = old })
}

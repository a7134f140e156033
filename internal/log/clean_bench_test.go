package log

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkClean cleans a log of 4 sealed 1 MiB segments (10-record
// batches, 100-byte values, 1000 distinct keys): the cost of one pass,
// offset map, rewrite and swap, per byte of input.
func BenchmarkClean(b *testing.B) {
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	batch := func(i int) []byte {
		kvs := make([]kv, 10)
		for j := range kvs {
			kvs[j] = put(fmt.Sprintf("key-%04d", (i*10+j)%1000), string(make([]byte, 100)))
		}
		return keyedBatch(b, 1000, 0, -1, kvs...)
	}
	var size int64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		l, err := Open(filepath.Join(b.TempDir(), fmt.Sprint(i)), cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		for j := 0; l.NumSegments() < 5; j++ {
			if _, err := l.Append(batch(j), 0); err != nil {
				b.Fatal(err)
			}
		}
		size = l.Size() - l.active().meta.size
		b.SetBytes(size)
		b.StartTimer()
		res, err := l.Clean(cleanOpts(l, cleanNow))
		if err != nil || !res.Cleaned {
			b.Fatal(res, err)
		}
		b.StopTimer()
		l.Close()
		b.StartTimer()
	}
}

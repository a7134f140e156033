package log

import (
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"
)

func benchLog(b *testing.B, cfg Config) *Log {
	l, err := Open(b.TempDir(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// BenchmarkAppend appends 16 x 1 KiB record batches (page cache only).
func BenchmarkAppend(b *testing.B) {
	cfg := testConfig()
	cfg.SegmentBytes = 64 << 20
	cfg.RetentionBytes = 256 << 20 // bound the disk the benchmark uses
	l := benchLog(b, cfg)
	batch := simpleBatch(time.Now().UnixMilli(), 16, 1024)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
		if i%8192 == 8191 {
			if _, err := l.EnforceRetention(time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkAppendSyncParallel is the durable produce path: every append
// waits for its fsync, shared by concurrent producers (group commit).
func BenchmarkAppendSyncParallel(b *testing.B) {
	l := benchLog(b, testConfig())
	proto := simpleBatch(time.Now().UnixMilli(), 16, 1024)
	b.SetBytes(int64(len(proto)))
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		batch := append([]byte(nil), proto...)
		for pb.Next() {
			info, err := l.Append(batch, 1)
			if err == nil {
				err = l.Sync(info.LastOffset + 1)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRead reads up to 1 MiB from random offsets of a 3-segment log:
// index lookup plus header scan; ReadAll also copies the bytes.
func BenchmarkRead(b *testing.B) {
	cfg := testConfig()
	cfg.SegmentBytes = 16 << 20
	l := benchLog(b, cfg)
	for range 3000 {
		if _, err := l.Append(simpleBatch(1, 16, 1024), 1); err != nil {
			b.Fatal(err)
		}
	}
	end := l.EndOffset()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, copyBytes := range []bool{false, true} {
		name := "Slices"
		if copyBytes {
			name = "ReadAll"
		}
		b.Run(name, func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				rr, err := l.Read(rng.Int64N(end), 1<<20, end)
				if err != nil {
					b.Fatal(err)
				}
				if copyBytes {
					if buf, err = rr.ReadAll(buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(rr.Size))
				rr.Release()
			}
		})
	}
}

// BenchmarkIndexLookup looks up random offsets in the offset index of a
// full 1 GiB segment (one entry per 4 KiB: 262144 entries).
func BenchmarkIndexLookup(b *testing.B) {
	x := offsetIndex{indexFile{entSize: offsetEntrySize}}
	const n = 1 << 18
	for i := range n {
		x.buf = appendOffsetEntry(x.buf, uint32(i*3), uint32(i*4096))
	}
	rng := rand.New(rand.NewPCG(2, 2))
	b.ReportAllocs()
	for b.Loop() {
		rel := rng.Int64N(3 * n)
		if _, pos := x.lookup(rel); pos != rel/3*4096 {
			b.Fatalf("lookup(%d) = %d", rel, pos)
		}
	}
}

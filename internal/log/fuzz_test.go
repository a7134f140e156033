package log

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"os"
	"testing"

	"github.com/sluice-io/sluice/internal/record"
)

// fuzzBatches is the valid content of the segment every FuzzRecovery case
// starts from: three batches at offsets 0-1, 2-4, 5-8.
func fuzzBatches() [][]byte {
	bs := [][]byte{buildBatch(1000, []int64{0, 1}, 20), buildBatch(1010, []int64{0, 5, 2}, 30), buildBatch(1020, []int64{0, 1, 2, 3}, 10)}
	var next int64
	for _, b := range bs {
		record.SetBaseOffset(b, next)
		next += int64(binary.BigEndian.Uint32(b[23:])) + 1
	}
	return bs
}

// oracleRecover is an independent statement of what recovery keeps: the
// longest prefix of whole batches with a parsable header, base offsets
// following on, lastOffsetDelta >= 0 and a good CRC.
func oracleRecover(b []byte) (keep int, next int64) {
	for len(b)-keep >= record.HeaderSize {
		h, err := record.ParseHeader(b[keep:])
		if err != nil || h.Size() > len(b)-keep || h.BaseOffset != next || h.LastOffsetDelta < 0 {
			break
		}
		if record.CheckCRC(b[keep:keep+h.Size()]) != nil {
			break
		}
		keep += h.Size()
		next = h.LastOffset() + 1
	}
	return keep, next
}

// FuzzRecovery writes a segment of valid batches, damages it as data says,
// and checks that Open keeps exactly the valid prefix and that appends
// continue after it.
//
// data[0] is a mode: bit 0 overwrites bytes inside the last batch
// (data[1:3] position in the batch, data[3]%32 bytes follow); bit 1 starts
// the tail with a valid next batch, cut to data[i]*len/256 bytes when that
// byte is not 0. The remaining bytes are appended as they are.
func FuzzRecovery(f *testing.F) {
	orig := syncFile
	syncFile = func(*os.File) error { return nil } // durability is not under test here
	f.Cleanup(func() { syncFile = orig })
	logger := slog.New(slog.DiscardHandler)

	f.Fuzz(func(t *testing.T, data []byte) {
		bs := fuzzBatches()
		file := bytes.Join(bs, nil)
		prefix := len(bs[0]) + len(bs[1]) // never damaged
		var tail []byte
		if len(data) > 0 {
			mode := data[0]
			data = data[1:]
			if mode&1 != 0 && len(data) >= 3 {
				at := prefix + int(binary.BigEndian.Uint16(data))%len(bs[2])
				n := int(data[2]) % 32
				data = data[3:]
				n = min(n, len(data), len(file)-at)
				copy(file[at:], data[:n])
				data = data[n:]
			}
			if mode&2 != 0 && len(data) >= 1 {
				nb := buildBatch(2000, []int64{0, 1}, 5)
				record.SetBaseOffset(nb, 9)
				if cut := int(data[0]); cut != 0 {
					nb = nb[:cut*len(nb)/256]
				}
				tail = append(tail, nb...)
				data = data[1:]
			}
		}
		tail = append(tail, data...)
		file = append(file, tail...)

		dir := t.TempDir()
		if err := os.WriteFile(segmentPath(dir, 0, logSuffix), file, 0o644); err != nil {
			t.Fatal(err)
		}
		keep, next := oracleRecover(file)
		if keep < prefix {
			t.Fatalf("oracle keeps %d bytes, less than the undamaged %d", keep, prefix)
		}

		l, err := Open(dir, testConfig(), logger)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()
		if l.EndOffset() != next {
			t.Fatalf("EndOffset %d, want %d", l.EndOffset(), next)
		}
		if next > 0 {
			if got := readAll(t, l, 0); !bytes.Equal(got, file[:keep]) {
				t.Fatalf("recovered %d bytes, want the %d valid ones", len(got), keep)
			}
		}
		nb := simpleBatch(5, 2, 3)
		info, err := l.Append(nb, 1)
		if err != nil || info.FirstOffset != next {
			t.Fatalf("Append after recovery: %+v, %v; want offset %d", info, err, next)
		}
		rr, err := l.Read(next, 1, l.EndOffset())
		if err != nil {
			t.Fatal(err)
		}
		if got := mustReadAll(t, rr); !bytes.Equal(got, nb) {
			t.Fatal("appended batch reads back differently")
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		// Recovering the recovered log changes nothing.
		l2, err := Open(dir, testConfig(), logger)
		if err != nil {
			t.Fatal(err)
		}
		defer l2.Close()
		if l2.EndOffset() != next+2 {
			t.Fatalf("second Open: EndOffset %d, want %d", l2.EndOffset(), next+2)
		}
	})
}

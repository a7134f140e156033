// Kafka's zig-zag varints are the same encoding as Go's binary.AppendVarint,
// so the standard library is the oracle for values; the length limits are
// Kafka's own and are tested directly.

package record

import (
	"encoding/binary"
	"math"
	"testing"
)

func TestVarintMatchesStdlib(t *testing.T) {
	vals := []int32{0, 1, -1, 63, -64, 64, -65, 8191, 8192, math.MaxInt32, math.MinInt32, 300, -300}
	for _, v := range vals {
		got := AppendVarint(nil, v)
		want := binary.AppendVarint(nil, int64(v))
		if string(got) != string(want) || VarintLen(v) != len(got) {
			t.Fatalf("%d: got %x (len %d) want %x", v, got, VarintLen(v), want)
		}
		r, n := ReadVarint(append(got, 0xAA))
		if r != v || n != len(got) {
			t.Fatalf("%d: read back %d n=%d", v, r, n)
		}
	}
	longs := []int64{0, -1, 1, math.MaxInt64, math.MinInt64, 1 << 40, -(1 << 40), math.MaxInt32 + 1}
	for _, v := range longs {
		got := AppendVarlong(nil, v)
		want := binary.AppendVarint(nil, v)
		if string(got) != string(want) || VarlongLen(v) != len(got) {
			t.Fatalf("%d: got %x want %x", v, got, want)
		}
		r, n := ReadVarlong(got)
		if r != v || n != len(got) {
			t.Fatalf("%d: read back %d n=%d", v, r, n)
		}
	}
}

func TestVarintLimits(t *testing.T) {
	cases := []struct {
		b    []byte
		long bool
		n    int // 0 truncated, <0 invalid, >0 ok
	}{
		{nil, false, 0},
		{[]byte{0x80}, false, 0},
		{[]byte{0x80, 0x80, 0x80, 0x80}, false, 0},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, false, 5},  // MinInt32
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x10}, false, -5}, // 33 bits
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, false, -5},
		{[]byte{0x80, 0x00}, false, 2}, // non-minimal but valid, as in Java
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, true, 10},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, true, -10},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true, 0},
	}
	for _, c := range cases {
		var n int
		if c.long {
			_, n = ReadVarlong(c.b)
		} else {
			_, n = ReadVarint(c.b)
		}
		if (c.n > 0) != (n > 0) || (c.n == 0) != (n == 0) || (c.n > 0 && n != c.n) {
			t.Errorf("%x long=%v: n=%d, want %d", c.b, c.long, n, c.n)
		}
	}
	if v, _ := ReadVarint([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}); v != math.MinInt32 {
		t.Errorf("five-byte max decodes to %d", v)
	}
}

// Kafka encodes every per-record length and delta as a zig-zag varint, so the
// record walk spends most of its time here. encoding/binary's Varint is not a
// fit: it accepts up to ten bytes for any value, while Kafka's int32 fields
// (lengths, offset deltas, header counts) are at most five bytes, and an
// overlong varint in a produced batch is corruption to reject, not a value to
// truncate. The helpers take and return plain slices and ints so the hot
// validation loop stays free of allocations and interface calls.

package record

// Maximum encoded sizes of a zig-zag varint (int32) and varlong (int64).
const (
	MaxVarintLen  = 5
	MaxVarlongLen = 10
)

// ReadVarint decodes a zig-zag varint (a Kafka int32 varint) from the front of
// b. It returns the value and the number of bytes read. As with
// binary.Uvarint, n == 0 means b ended mid-varint and n < 0 means the encoding
// is longer than five bytes or does not fit in 32 bits.
func ReadVarint(b []byte) (v int32, n int) {
	// Single-byte fast path ahead of the loop: small lengths and deltas
	// dominate real batches. Non-minimal encodings (0x80 0x00) are accepted
	// further down, as Kafka's Java reader accepts them.
	if len(b) != 0 && b[0] < 0x80 {
		return int32(b[0]>>1) ^ -int32(b[0]&1), 1
	}
	return readVarintSlow(b)
}

func readVarintSlow(b []byte) (v int32, n int) {
	var u uint32
	for i := 0; i < MaxVarintLen; i++ {
		if i == len(b) {
			return 0, 0
		}
		c := b[i]
		if i == MaxVarintLen-1 && c > 0x0f {
			// The fifth byte carries bits 28..31; anything above would
			// overflow (or continue past) 32 bits.
			return 0, -(i + 1)
		}
		u |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int32(u>>1) ^ -int32(u&1), i + 1
		}
	}
	return 0, -MaxVarintLen // unreachable: the fifth byte check returns
}

// ReadVarlong decodes a zig-zag varlong (a Kafka int64 varint) from the front
// of b, with the same n convention as ReadVarint (at most ten bytes).
func ReadVarlong(b []byte) (v int64, n int) {
	if len(b) != 0 && b[0] < 0x80 {
		return int64(b[0]>>1) ^ -int64(b[0]&1), 1
	}
	return readVarlongSlow(b)
}

func readVarlongSlow(b []byte) (v int64, n int) {
	var u uint64
	for i := 0; i < MaxVarlongLen; i++ {
		if i == len(b) {
			return 0, 0
		}
		c := b[i]
		if i == MaxVarlongLen-1 && c > 0x01 {
			// The tenth byte carries only bit 63.
			return 0, -(i + 1)
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), i + 1
		}
	}
	return 0, -MaxVarlongLen // unreachable: the tenth byte check returns
}

// AppendVarint appends v as a zig-zag varint.
func AppendVarint(dst []byte, v int32) []byte {
	u := uint32(v<<1) ^ uint32(v>>31)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// AppendVarlong appends v as a zig-zag varlong.
func AppendVarlong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// VarintLen is the encoded size of v as a zig-zag varint.
func VarintLen(v int32) int {
	u := uint32(v<<1) ^ uint32(v>>31)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// VarlongLen is the encoded size of v as a zig-zag varlong.
func VarlongLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

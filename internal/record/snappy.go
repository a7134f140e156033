// Snappy is the one Kafka codec with two container formats in the wild. The
// Java producer writes snappy-java's "xerial" stream framing; librdkafka and
// franz-go write one raw snappy block. Java consumers read both (snappy-java
// falls back to raw when the magic is absent), so the broker must accept both
// or it would reject batches real clients produce.
//
// Blocks are decoded with the strict standard-snappy decoder rather than the
// faster s2 one: s2 also accepts its own extensions, and a batch the broker
// accepts is stored and served byte for byte, so it must be one every
// client's snappy library can read. Each block states its decoded length up
// front, which lets the size limit be enforced before anything is allocated.
//
// Xerial layout:
//
//	magic    8 bytes  0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
//	version  int32    (not checked; writers use 1)
//	compat   int32    (not checked; writers use 1)
//	blocks   repeated [int32 length][raw snappy block]

package record

import (
	"bytes"
	"encoding/binary"

	"github.com/klauspost/compress/snappy"
)

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

func isXerial(b []byte) bool {
	return len(b) >= xerialHeaderLen && bytes.Equal(b[:len(xerialMagic)], xerialMagic)
}

func unsnappy(dst, src []byte, limit int) ([]byte, error) {
	if !isXerial(src) {
		return snappyBlock(dst, src, limit)
	}
	start := len(dst)
	src = src[xerialHeaderLen:]
	for len(src) > 0 {
		// snappy-java reads concatenated streams, so a header may recur
		// between blocks. A block length never starts with 0x82 (it would
		// be negative), so the check cannot misread a block.
		if isXerial(src) {
			src = src[xerialHeaderLen:]
			continue
		}
		if len(src) < 4 {
			return dst, corruptf("snappy: truncated xerial block length")
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return dst, corruptf("snappy: xerial block of %d bytes with %d remaining", n, len(src))
		}
		var err error
		if dst, err = snappyBlock(dst, src[:n], limit-(len(dst)-start)); err != nil {
			return dst, err
		}
		src = src[n:]
	}
	return dst, nil
}

// snappyBlock appends one decoded raw snappy block to dst.
func snappyBlock(dst, block []byte, limit int) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return dst, corruptf("snappy: %v", err)
	}
	if n > limit {
		return dst, tooLarge(limit)
	}
	if cap(dst)-len(dst) < n {
		grown := make([]byte, len(dst), len(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	// DecodeStrict decodes in place when the slice it is given has room,
	// which the growth above guarantees, so out aliases dst's tail.
	out, err := snappy.DecodeStrict(dst[len(dst):], block)
	if err != nil {
		return dst, corruptf("snappy: %v", err)
	}
	if len(out) != n {
		return dst, corruptf("snappy: decoded %d bytes, header said %d", len(out), n)
	}
	return dst[:len(dst)+n], nil
}

// snappyCompress emits one raw snappy block, as librdkafka and franz-go do.
func snappyCompress(src []byte) []byte {
	return snappy.Encode(nil, src)
}

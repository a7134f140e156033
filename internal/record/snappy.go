// Snappy is the one Kafka codec with two container formats in the wild. The
// Java producer writes snappy-java's "xerial" stream framing; librdkafka and
// franz-go write one raw snappy block. Java consumers read both (snappy-java
// falls back to raw when the magic is absent), so the broker must accept both
// or it would reject batches real clients produce.
//
// Blocks are decoded with the strict standard-snappy decoder rather than the
// faster s2 one: s2 also accepts its own extensions, and a batch the broker
// accepts is stored and served byte for byte, so it must be one every
// client's snappy library can read.
//
// Each block states its decoded length up front in a varint, and the decoder
// writes into a buffer of exactly that length, so a 175-byte block claiming
// 118 MiB used to cost 118 MiB before a byte was decoded. The claim is now
// checked twice before anything is allocated: against the limit, and by a
// pass over the block's tags (snappyCheck) that proves the stream decodes to
// exactly the claimed length, copies pointing only at bytes already
// produced. The buffer then holds what the block really decodes to.
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
	"errors"

	"github.com/klauspost/compress/snappy"
)

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

func isXerial(b []byte) bool {
	return len(b) >= xerialHeaderLen && bytes.Equal(b[:len(xerialMagic)], xerialMagic)
}

func unsnappy(dst, src []byte, limit int) ([]byte, error) {
	if !isXerial(src) {
		return snappyBlock(dst, src, false, len(dst), limit)
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
		if dst, err = snappyBlock(dst, src[:n], true, start, limit-(len(dst)-start)); err != nil {
			if errors.Is(err, ErrTooLarge) {
				err = tooLarge(limit) // name the batch's limit, not what was left of it
			}
			return dst, err
		}
		src = src[n:]
	}
	return dst, nil
}

// snappyBlock appends one decoded raw snappy block to dst, allowing it at
// most limit bytes. A framed block is one of a xerial stream whose output
// began at dst[start].
func snappyBlock(dst, block []byte, framed bool, start, limit int) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return dst, corruptf("snappy: %v", err)
	}
	if n > limit {
		return dst, tooLarge(limit)
	}
	if err := snappyCheck(block, n); err != nil {
		return dst, err
	}
	if room := n; cap(dst)-len(dst) < room {
		if framed {
			// Xerial appends block after block: double while growing,
			// never reserving more than the limit leaves.
			room = growStep(len(dst)-start, n, limit)
		}
		dst = grow(dst, room)
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

// snappyCheck walks the elements of a raw snappy block without producing
// output and fails unless they decode to exactly n bytes: every literal lies
// inside the block, every copy has an offset within what is decoded so far,
// and the total is n. It reads each input byte at most once and stops as
// soon as the output would pass n, so it costs no more than the block's size.
//
// Element tags (low two bits of the tag byte):
//
//	00 literal: length-1 in the upper six bits, or for 60..63 in the next
//	   1..4 bytes (little endian), then the literal bytes
//	01 copy, length 4..11 in bits 2-4, 11-bit offset (bits 5-7, next byte)
//	10 copy, length 1..64 in the upper six bits, 2-byte offset
//	11 copy, length 1..64 in the upper six bits, 4-byte offset
func snappyCheck(block []byte, n int) error {
	_, hdr := binary.Uvarint(block)
	src := block[hdr:] // DecodedLen already parsed the header
	d := 0             // bytes decoded so far
	for len(src) > 0 {
		tag := src[0]
		var length, offset, used int
		switch tag & 3 {
		case 0:
			x := int(tag >> 2)
			used = 1
			if x >= 60 {
				extra := x - 59
				if len(src) < 1+extra {
					return corruptf("snappy: truncated literal length")
				}
				var v uint32
				for i := range extra {
					v |= uint32(src[1+i]) << (8 * i)
				}
				x, used = int(v), 1+extra
			}
			length = x + 1
			if length > len(src)-used {
				return corruptf("snappy: literal of %d bytes with %d left", length, len(src)-used)
			}
			used += length
		case 1:
			if len(src) < 2 {
				return corruptf("snappy: truncated copy")
			}
			length = 4 + int(tag>>2&7)
			offset = int(tag&0xe0)<<3 | int(src[1])
			used = 2
		case 2:
			if len(src) < 3 {
				return corruptf("snappy: truncated copy")
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint16(src[1:]))
			used = 3
		case 3:
			if len(src) < 5 {
				return corruptf("snappy: truncated copy")
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint32(src[1:]))
			used = 5
		}
		if tag&3 != 0 && (offset == 0 || offset > d) {
			return corruptf("snappy: copy offset %d with %d bytes decoded", offset, d)
		}
		if length > n-d {
			return corruptf("snappy: block decodes past the %d bytes its header declares", n)
		}
		d += length
		src = src[used:]
	}
	if d != n {
		return corruptf("snappy: block decodes to %d bytes, its header declares %d", d, n)
	}
	return nil
}

// snappyCompress emits one raw snappy block, as librdkafka and franz-go do.
func snappyCompress(src []byte) []byte {
	return snappy.Encode(nil, src)
}

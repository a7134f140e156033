// Kafka before 0.10 wrote the LZ4 frame's header checksum (HC) wrongly: it
// hashed the frame's magic number along with the frame descriptor (KAFKA-
// 3160). Message format v0 keeps that mistake for compatibility, so Kafka
// ignores HC when it reads a v0 lz4 message and writes the old, wrong HC
// when it writes one for an old client. The lz4 decoder checks HC, so a v0
// frame's HC is recomputed before decoding, and a frame for a v0 message
// gets the old one.

package record

import (
	"encoding/binary"
	"math/bits"
)

// lz4HCAt is the position of HC in an LZ4 frame, or -1 when b is too short
// or not a frame: the descriptor is FLG, BD, an 8-byte content size when
// FLG bit 3 is set, and a 4-byte dictionary id when FLG bit 0 is set.
func lz4HCAt(b []byte) int {
	if len(b) < 7 || binary.LittleEndian.Uint32(b) != lz4FrameMagic {
		return -1
	}
	at := 6
	if b[4]&0x08 != 0 {
		at += 8
	}
	if b[4]&0x01 != 0 {
		at += 4
	}
	if at >= len(b) {
		return -1
	}
	return at
}

// fixLZ4HeaderChecksum returns src with a correct HC (a copy when it
// changes), whatever HC it had.
func fixLZ4HeaderChecksum(src []byte) []byte {
	at := lz4HCAt(src)
	if at < 0 {
		return src // the decoder reports what is wrong
	}
	hc := byte(xxh32(src[4:at]) >> 8)
	if src[at] == hc {
		return src
	}
	out := append([]byte(nil), src...)
	out[at] = hc
	return out
}

// setLZ4V0HeaderChecksum writes the HC a v0 reader expects into frame.
func setLZ4V0HeaderChecksum(frame []byte) {
	if at := lz4HCAt(frame); at >= 0 {
		frame[at] = byte(xxh32(frame[:at]) >> 8)
	}
}

const (
	xxhPrime1 uint32 = 2654435761
	xxhPrime2 uint32 = 2246822519
	xxhPrime3 uint32 = 3266489917
	xxhPrime4 uint32 = 668265263
	xxhPrime5 uint32 = 374761393
)

// xxh32 is XXH32 with seed 0.
func xxh32(b []byte) uint32 {
	n := uint32(len(b))
	var h uint32
	if len(b) >= 16 {
		p1, p2 := xxhPrime1, xxhPrime2
		v := [4]uint32{p1 + p2, p2, 0, 0 - p1}
		for ; len(b) >= 16; b = b[16:] {
			for i := range v {
				v[i] += binary.LittleEndian.Uint32(b[4*i:]) * xxhPrime2
				v[i] = bits.RotateLeft32(v[i], 13) * xxhPrime1
			}
		}
		h = bits.RotateLeft32(v[0], 1) + bits.RotateLeft32(v[1], 7) + bits.RotateLeft32(v[2], 12) + bits.RotateLeft32(v[3], 18)
	} else {
		h = xxhPrime5
	}
	h += n
	for ; len(b) >= 4; b = b[4:] {
		h += binary.LittleEndian.Uint32(b) * xxhPrime3
		h = bits.RotateLeft32(h, 17) * xxhPrime4
	}
	for _, c := range b {
		h += uint32(c) * xxhPrime5
		h = bits.RotateLeft32(h, 11) * xxhPrime1
	}
	h ^= h >> 15
	h *= xxhPrime2
	h ^= h >> 13
	h *= xxhPrime3
	h ^= h >> 16
	return h
}

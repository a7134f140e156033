package record

import "encoding/binary"

// Recompress returns a copy of batch whose records section is encoded with
// codec (CodecNone for uncompressed). Record bytes are kept exactly; only
// the compression wrapper, the codec bits, the length and the CRC change.
// Kafka does this for topics whose compression.type is not "producer".
func Recompress(batch []byte, codec int) ([]byte, error) {
	h, err := ParseHeader(batch)
	if err != nil {
		return nil, err
	}
	if codec < CodecNone || codec > CodecZstd {
		return nil, ErrInvalidCodec
	}
	raw := batch[HeaderSize:]
	if h.Codec() != CodecNone {
		if raw, err = Decompress(h.Codec(), raw); err != nil {
			return nil, err
		}
	}
	body := raw
	if codec != CodecNone {
		if body, err = Compress(codec, raw); err != nil {
			return nil, err
		}
	}
	out := make([]byte, HeaderSize+len(body))
	copy(out, batch[:HeaderSize])
	copy(out[HeaderSize:], body)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-LogOverhead))
	attrs := uint16(h.Attributes)&^CodecMask | uint16(codec)
	binary.BigEndian.PutUint16(out[21:], attrs)
	binary.BigEndian.PutUint32(out[17:], ComputeCRC(out))
	return out, nil
}

// CodecForName maps a compression.type value to a codec; ok is false for
// "producer" (keep what the producer sent).
func CodecForName(name string) (codec int, ok bool) {
	switch name {
	case "uncompressed", "none":
		return CodecNone, true
	case "gzip":
		return CodecGzip, true
	case "snappy":
		return CodecSnappy, true
	case "lz4":
		return CodecLZ4, true
	case "zstd":
		return CodecZstd, true
	}
	return 0, false
}

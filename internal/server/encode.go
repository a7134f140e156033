package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
)

// part is one piece of an encoded response: bytes, or a file range.
type part struct {
	buf  []byte
	file FilePart
}

// out is an encoded response in write order. Its byte parts point into
// buf, which goes back to the pool once the response is written (release).
type out struct {
	parts []part
	buf   *[]byte
}

// encodeBufs hold encoded responses: a tailing consumer is answered at
// every HW move, and a new buffer for each answer was the broker's largest
// allocation left on that path. Buffers that grew past encodeBufMax (big
// metadata answers) are left to the GC rather than kept.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

const encodeBufMax = 64 << 10

// release hands o's buffer back; o must not be used after.
func (o *out) release() {
	if o == nil || o.buf == nil {
		return
	}
	if cap(*o.buf) <= encodeBufMax {
		*o.buf = (*o.buf)[:0]
		encodeBufs.Put(o.buf)
	}
	o.buf, o.parts = nil, nil
}

// encode frames resp for req: size, correlation id, the header's tagged
// fields for flexible responses (never for ApiVersions, whose response header
// stays v0 so a client can always parse it), the body, and the splices.
func encode(req *Request, resp *Response) (*out, error) {
	bp := encodeBufs.Get().(*[]byte)
	buf := append((*bp)[:0], 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(buf[4:], uint32(req.CorrelationID))
	if resp.Msg.IsFlexible() && req.Key != 18 {
		buf = append(buf, 0)
	}
	buf = resp.Msg.AppendTo(buf)
	*bp = buf
	o := &out{buf: bp}
	total := int64(len(buf) - 4)
	flexible := resp.Msg.IsFlexible()
	start, from := 0, 8
	for _, s := range resp.Splices {
		at := bytes.Index(buf[from:], s.Marker)
		if at < 0 {
			o.release()
			return nil, fmt.Errorf("splice marker not found")
		}
		at += from
		var size int64
		for _, p := range s.Parts {
			size += p.Len
		}
		// The marker was encoded as bytes or compact bytes; its prefix
		// sits right before it and is replaced by the real length.
		var prefixLen int
		var prefix []byte
		if flexible {
			prefixLen = uvarintLen(uint64(len(s.Marker) + 1))
			prefix = binary.AppendUvarint(nil, uint64(size+1))
		} else {
			prefixLen = 4
			prefix = binary.BigEndian.AppendUint32(nil, uint32(size))
		}
		o.parts = append(o.parts, part{buf: buf[start : at-prefixLen]}, part{buf: prefix})
		for _, p := range s.Parts {
			o.parts = append(o.parts, part{file: p})
		}
		total += int64(len(prefix)-prefixLen) + size - int64(len(s.Marker))
		start = at + len(s.Marker)
		from = start
	}
	o.parts = append(o.parts, part{buf: buf[start:]})
	binary.BigEndian.PutUint32(buf[0:], uint32(total))
	return o, nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

package server

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var errMalformed = errors.New("malformed request header")

// parseHeader reads the request header (v1 or v2) at the front of a frame and
// returns the header fields and the body. kmsg has no request-header type, so
// these few fixed fields are read here.
func parseHeader(frame []byte) (req *Request, body []byte, err error) {
	if len(frame) < 10 {
		return nil, nil, fmt.Errorf("%w: %d bytes", errMalformed, len(frame))
	}
	req = &Request{
		Key:           int16(binary.BigEndian.Uint16(frame[0:])),
		Version:       int16(binary.BigEndian.Uint16(frame[2:])),
		CorrelationID: int32(binary.BigEndian.Uint32(frame[4:])),
	}
	n := int16(binary.BigEndian.Uint16(frame[8:]))
	rest := frame[10:]
	if n >= 0 {
		if int(n) > len(rest) {
			return nil, nil, fmt.Errorf("%w: client id overruns frame", errMalformed)
		}
		req.ClientID = string(rest[:n])
		rest = rest[n:]
	} else if n != -1 {
		return nil, nil, fmt.Errorf("%w: client id length %d", errMalformed, n)
	}
	if proto := kmsg.RequestForKey(req.Key); proto != nil {
		proto.SetVersion(req.Version)
		if proto.IsFlexible() {
			if rest, err = skipTags(rest); err != nil {
				return nil, nil, err
			}
		}
	}
	return req, rest, nil
}

// skipTags skips a KIP-482 tagged-field section.
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, fmt.Errorf("%w: bad tag count", errMalformed)
	}
	b = b[n:]
	for i := uint64(0); i < count; i++ {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, fmt.Errorf("%w: bad tag", errMalformed)
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: bad tag size", errMalformed)
		}
		b = b[n+int(size):]
	}
	return b, nil
}

// decodeBody decodes the request body with kmsg.
func decodeBody(req *Request, body []byte) error {
	msg := kmsg.RequestForKey(req.Key)
	if msg == nil {
		return fmt.Errorf("unknown api key %d", req.Key)
	}
	msg.SetVersion(req.Version)
	if err := msg.ReadFrom(body); err != nil {
		return fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(req.Key), req.Version, err)
	}
	req.Body = msg
	return nil
}

// ParseRequest decodes a request frame (header and body, no size prefix):
// what an Envelope (KIP-590) carries.
func ParseRequest(frame []byte) (*Request, error) {
	req, body, err := parseHeader(frame)
	if err != nil {
		return nil, err
	}
	if err := decodeBody(req, body); err != nil {
		return nil, err
	}
	return req, nil
}

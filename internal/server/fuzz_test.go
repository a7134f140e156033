package server

import (
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// frameFor encodes req as a request frame body (header + body, no size).
func frameFor(req kmsg.Request, version int16) []byte {
	req.SetVersion(version)
	b := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 7)
	b = binary.BigEndian.AppendUint16(b, 3)
	b = append(b, "fuz"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	return req.AppendTo(b)
}

// FuzzRequest feeds arbitrary frames to the header parser and kmsg decoder:
// they must return an error or a request, never panic or hang.
func FuzzRequest(f *testing.F) {
	meta := kmsg.NewPtrMetadataRequest()
	t := "orders"
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = &t
	meta.Topics = append(meta.Topics, mt)
	f.Add(frameFor(meta, 12))
	f.Add(frameFor(kmsg.NewPtrApiVersionsRequest(), 3))
	prod := kmsg.NewPtrProduceRequest()
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "orders"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = make([]byte, 70)
	pt.Partitions = append(pt.Partitions, pp)
	prod.Topics = append(prod.Topics, pt)
	f.Add(frameFor(prod, 9))
	f.Add(frameFor(kmsg.NewPtrFetchRequest(), 4))
	f.Add([]byte{0, 1, 0, 13, 0, 0, 0, 1, 255, 255, 0})
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, body, err := parseHeader(frame)
		if err != nil {
			return
		}
		if kmsg.RequestForKey(req.Key) == nil {
			return
		}
		_ = decodeBody(req, body)
	})
}

func TestParseHeaderRejectsShortFrames(t *testing.T) {
	for _, frame := range [][]byte{nil, {0, 3}, {0, 3, 0, 1, 0, 0, 0, 1, 0, 9, 'a'}} {
		if _, _, err := parseHeader(frame); err == nil {
			t.Errorf("parseHeader(%v) accepted a malformed header", frame)
		}
	}
}

package integration

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// header builds a raw request frame: size, key, version, correlation id,
// client id, then extra (e.g. a tag byte and a body).
func header(key, version int16, corr int32, clientID string, extra []byte) []byte {
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	b = append(b, clientID...)
	b = append(b, extra...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// TestOversizedFrame: a frame larger than socket.request.max.bytes closes
// the connection; the broker keeps serving others.
func TestOversizedFrame(t *testing.T) {
	tb := startBroker(t, withProp("socket.request.max.bytes", "1024"))

	// Within the limit is fine, up to exactly the limit.
	checkServing(t, tb.Addr())
	exact := kmsg.NewPtrMetadataRequest()
	exact.SetVersion(4)
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("")
	exact.Topics = append(exact.Topics, mt)
	pad := 1024 - (len(encodeRequest(1, exact)) - 4)
	exact.Topics[0].Topic = kmsg.StringPtr(strings.Repeat("p", pad))
	if n := len(encodeRequest(1, exact)) - 4; n != 1024 {
		t.Fatalf("padded request is %d bytes, want 1024", n)
	}
	rc := dialRaw(t, tb.Addr())
	if resp := rc.roundTrip(1, exact).(*kmsg.MetadataResponse); len(resp.Brokers) != 1 {
		t.Errorf("1024-byte request (= socket.request.max.bytes): %d brokers in the answer", len(resp.Brokers))
	}

	for _, size := range []uint32{1025, 100 << 20, 0x7fffffff} {
		rc := dialRaw(t, tb.Addr())
		frame := binary.BigEndian.AppendUint32(nil, size)
		frame = append(frame, header(18, 3, 1, "big", make([]byte, 64))[4:]...)
		rc.write(frame)
		rc.expectClosed(fmt.Sprintf("frame of declared size %d over socket.request.max.bytes=1024", size))
		checkServing(t, tb.Addr())
	}
}

// TestTruncatedFrame: a frame cut short and the connection closed, or
// left hanging, does not disturb the broker.
func TestTruncatedFrame(t *testing.T) {
	tb := startBroker(t)
	full := encodeRequest(1, apiVersionsReq())

	rc := dialRaw(t, tb.Addr())
	rc.write(full[:len(full)-3])
	rc.c.Close()
	checkServing(t, tb.Addr())

	// A client stalled mid-frame does not block anybody else.
	stalled := dialRaw(t, tb.Addr())
	stalled.write(full[:6])
	checkServing(t, tb.Addr())
	// Completing the frame later still gets it answered.
	stalled.write(full[6:])
	resp := stalled.recv(1, apiVersionsReq()).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 {
		t.Errorf("ApiVersions completed late: error %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// TestGarbageHeader: frames whose header cannot be parsed close the
// connection, without an answer.
func TestGarbageHeader(t *testing.T) {
	tb := startBroker(t)
	cases := map[string][]byte{
		"4-byte frame":            {0, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef},
		"empty frame":             {0, 0, 0, 0},
		"negative size":           {0xff, 0xff, 0xff, 0xfe, 0, 18, 0, 0},
		"client id past the end":  func() []byte { b := header(18, 0, 1, "", nil); b[len(b)-1] = 200; return b }(),
		"random bytes":            {0, 0, 0, 12, 0x9a, 0x01, 0xff, 0x13, 0x77, 0x00, 0x42, 0x42, 0x42, 0xff, 0xfe, 0xfd},
		"flexible header no tags": header(18, 3, 1, "x", nil),
	}
	for name, frame := range cases {
		rc := dialRaw(t, tb.Addr())
		rc.write(frame)
		rc.expectClosed(name)
	}
	checkServing(t, tb.Addr())
}

// TestUnknownAPIKey: an API key the broker does not know (9999) closes
// the connection; so does an unsupported version of a known key other
// than ApiVersions.
func TestUnknownAPIKey(t *testing.T) {
	tb := startBroker(t)
	rc := dialRaw(t, tb.Addr())
	rc.write(header(9999, 0, 1, "x", []byte{0, 0, 0, 0}))
	rc.expectClosed("api key 9999")

	rc = dialRaw(t, tb.Addr())
	rc.write(header(3, 99, 2, "x", []byte{0, 0}))
	rc.expectClosed("Metadata v99")
	checkServing(t, tb.Addr())
}

// TestApiVersionsUnsupportedVersion: ApiVersions at a version the broker
// does not know is answered with a v0 response carrying
// UNSUPPORTED_VERSION (35) and the supported API list.
func TestApiVersionsUnsupportedVersion(t *testing.T) {
	tb := startBroker(t)
	rc := dialRaw(t, tb.Addr())
	body := apiVersionsReq().AppendTo(nil)
	rc.write(header(18, 99, 4242, "future-client", append([]byte{0}, body...)))

	frame, err := rc.readFrame(10 * time.Second)
	if err != nil {
		t.Fatalf("ApiVersions v99: no answer: %v", err)
	}
	v0 := kmsg.NewPtrApiVersionsRequest()
	v0.SetVersion(0)
	corr, kresp, err := decodeResponse(frame, v0)
	if err != nil {
		t.Fatalf("ApiVersions v99: response does not parse as v0: %v (%x)", err, frame)
	}
	resp := kresp.(*kmsg.ApiVersionsResponse)
	if corr != 4242 {
		t.Errorf("correlation id %d, want 4242", corr)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("error code %d, want 35 (UNSUPPORTED_VERSION)", resp.ErrorCode)
	}
	keys := map[int16]kmsg.ApiVersionsResponseApiKey{}
	for _, k := range resp.ApiKeys {
		keys[k.ApiKey] = k
	}
	for _, key := range []int16{0, 1, 2, 3, 18} {
		if _, ok := keys[key]; !ok {
			t.Errorf("api list lacks key %d", key)
		}
	}
	if k := keys[18]; k.MinVersion != 0 || k.MaxVersion < 3 {
		t.Errorf("ApiVersions range %d..%d, want 0..>=3", k.MinVersion, k.MaxVersion)
	}
	// The connection stays usable, at a supported version.
	resp3 := rc.roundTrip(4243, apiVersionsReq()).(*kmsg.ApiVersionsResponse)
	if resp3.ErrorCode != 0 {
		t.Errorf("ApiVersions v3 after v99: error %v", kerr.ErrorForCode(resp3.ErrorCode))
	}
}

// TestPipelining: 20 requests in one write are all answered, in order;
// a long poll among pipelined requests holds back the answers behind it.
func TestPipelining(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 2, nil)

	rc := dialRaw(t, tb.Addr())
	var buf []byte
	reqs := make([]kmsg.Request, 20)
	for i := range reqs {
		if i%2 == 0 {
			reqs[i] = apiVersionsReq()
		} else {
			m := kmsg.NewPtrMetadataRequest()
			m.SetVersion(int16(1 + i%12)) // v2, v4 .. v12: flexible and not
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr(topic)
			m.Topics = append(m.Topics, mt)
			reqs[i] = m
		}
		buf = append(buf, encodeRequest(int32(1000+i*7), reqs[i])...)
	}
	rc.write(buf)
	for i, req := range reqs {
		resp := rc.recv(int32(1000+i*7), req)
		switch r := resp.(type) {
		case *kmsg.ApiVersionsResponse:
			if r.ErrorCode != 0 || len(r.ApiKeys) == 0 {
				t.Errorf("response %d (ApiVersions): error %d, %d keys", i, r.ErrorCode, len(r.ApiKeys))
			}
		case *kmsg.MetadataResponse:
			if len(r.Brokers) != 1 || r.Brokers[0].NodeID != brokerNodeID || len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 2 {
				t.Errorf("response %d (Metadata v%d): brokers %+v, topics %+v", i, req.GetVersion(), r.Brokers, r.Topics)
			}
		}
	}

	// A long poll in the middle (nothing to fetch, MaxWait 300ms): the
	// requests behind it are answered after it, as Kafka answers strictly
	// in order.
	fr := fetchReq(topic, topicID(t, newClient(t, tb.Addr()), topic), 0, 0, 1<<20, 1<<20, 1, 300)
	fr.SetVersion(12)
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(12)
	reqs = []kmsg.Request{apiVersionsReq(), fr, md, apiVersionsReq()}
	buf = nil
	for i, req := range reqs {
		buf = append(buf, encodeRequest(int32(2000+i), req)...)
	}
	rc.write(buf)
	for i, req := range reqs {
		resp := rc.recv(int32(2000+i), req)
		if f, ok := resp.(*kmsg.FetchResponse); ok {
			if p := onlyPartition(t, f); p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
				t.Errorf("pipelined long poll: error %v, %d bytes", kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches))
			}
		}
	}
}

// TestProduceAcksZeroNoResponse: Produce with acks=0 is not answered: the
// next response on the connection belongs to the following request. The
// record is still written.
func TestProduceAcksZeroNoResponse(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)

	rc := dialRaw(t, tb.Addr())
	pr := kmsg.NewPtrProduceRequest()
	pr.SetVersion(9)
	pr.Acks = 0
	pr.TimeoutMillis = 5000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = buildBatch(time.Now().UnixMilli(), []rawRecord{{value: []byte("fire and forget")}})
	pt.Partitions = append(pt.Partitions, pp)
	pr.Topics = append(pr.Topics, pt)
	rc.send(1, pr)

	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(12)
	resp := rc.roundTrip(2, md).(*kmsg.MetadataResponse)
	if len(resp.Brokers) != 1 {
		t.Errorf("metadata after acks=0 produce: %d brokers", len(resp.Brokers))
	}

	cl := newClient(t, tb.Addr())
	waitFor(t, 10*time.Second, "the acks=0 record to be written", func() error {
		if off, _, code := listOffset(t, cl, topic, 0, tsLatest); code != 0 || off != 1 {
			return fmt.Errorf("log end offset %d (error %v), want 1", off, kerr.ErrorForCode(code))
		}
		return nil
	})
}

package integration

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn speaks the Kafka protocol by hand over a plain TCP connection.
type rawConn struct {
	t *testing.T
	c net.Conn
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

// encodeRequest frames req (at the version set on it) with a request
// header: size, api key, version, correlation id, client id, and an empty
// tag section for flexible versions.
func encodeRequest(corr int32, req kmsg.Request) []byte {
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	const clientID = "sluice-raw-test"
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	b = append(b, clientID...)
	if req.IsFlexible() {
		b = append(b, 0) // no tagged fields
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func (rc *rawConn) write(b []byte) {
	rc.t.Helper()
	rc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.c.Write(b); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// send writes one framed request.
func (rc *rawConn) send(corr int32, req kmsg.Request) {
	rc.t.Helper()
	rc.write(encodeRequest(corr, req))
}

// readFrame reads one size-prefixed response frame.
func (rc *rawConn) readFrame(timeout time.Duration) ([]byte, error) {
	rc.c.SetReadDeadline(time.Now().Add(timeout))
	var size [4]byte
	if _, err := io.ReadFull(rc.c, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > 64<<20 {
		return nil, errors.New("implausible response size")
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc.c, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// recv reads the next response, checks its correlation id, and decodes it
// as the response to req.
func (rc *rawConn) recv(corr int32, req kmsg.Request) kmsg.Response {
	rc.t.Helper()
	frame, err := rc.readFrame(15 * time.Second)
	if err != nil {
		rc.t.Fatalf("read response to correlation id %d (key %d v%d): %v", corr, req.Key(), req.GetVersion(), err)
	}
	got, resp, err := decodeResponse(frame, req)
	if err != nil {
		rc.t.Fatalf("decode response (key %d v%d): %v", req.Key(), req.GetVersion(), err)
	}
	if got != corr {
		rc.t.Fatalf("response correlation id %d, want %d", got, corr)
	}
	return resp
}

// roundTrip sends req and returns its decoded response.
func (rc *rawConn) roundTrip(corr int32, req kmsg.Request) kmsg.Response {
	rc.t.Helper()
	rc.send(corr, req)
	return rc.recv(corr, req)
}

// decodeResponse parses a response frame (without its size) to req. The
// response header is v1 (with tags) for flexible versions, except for
// ApiVersions which always answers with header v0.
func decodeResponse(frame []byte, req kmsg.Request) (int32, kmsg.Response, error) {
	if len(frame) < 4 {
		return 0, nil, errors.New("frame shorter than a correlation id")
	}
	corr := int32(binary.BigEndian.Uint32(frame))
	body := frame[4:]
	if req.IsFlexible() && req.Key() != 18 {
		var err error
		if body, err = skipTags(body); err != nil {
			return corr, nil, err
		}
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body); err != nil {
		return corr, nil, err
	}
	return corr, resp, nil
}

func skipTags(b []byte) ([]byte, error) {
	n, sz := binary.Uvarint(b)
	if sz <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[sz:]
	for i := uint64(0); i < n; i++ {
		if _, sz = binary.Uvarint(b); sz <= 0 {
			return nil, errors.New("bad tag key")
		}
		b = b[sz:]
		l, sz := binary.Uvarint(b)
		if sz <= 0 || uint64(len(b)-sz) < l {
			return nil, errors.New("bad tag length")
		}
		b = b[sz+int(l):]
	}
	return b, nil
}

// expectClosed asserts the broker closes the connection (EOF or reset)
// without sending anything first.
func (rc *rawConn) expectClosed(what string) {
	rc.t.Helper()
	frame, err := rc.readFrame(10 * time.Second)
	switch {
	case err == nil:
		rc.t.Errorf("%s: broker answered (%d bytes) instead of closing the connection", what, len(frame))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), isReset(err):
		// closed, as Kafka does
	default:
		rc.t.Errorf("%s: want the connection closed, got %v", what, err)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// apiVersionsReq is an ApiVersions v3 request.
func apiVersionsReq() *kmsg.ApiVersionsRequest {
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName = "sluice-test"
	req.ClientSoftwareVersion = "1.0"
	return req
}

// checkServing asserts a fresh connection gets a good ApiVersions answer.
func checkServing(t *testing.T, addr string) {
	t.Helper()
	rc := dialRaw(t, addr)
	resp := rc.roundTrip(77, apiVersionsReq()).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions on a fresh connection: error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
}

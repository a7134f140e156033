package interbroker

import (
	"context"
	"encoding/binary"
	"fmt"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The request header (all versions) begins size INT32, api_key INT16,
// api_version INT16, correlation_id INT32: the id sits at bytes 8..12 of
// the frame, where the writer puts it once it knows the order of writes.
const corrOffset = 8

// encode builds a call's frame with kmsg's formatter (the client id and,
// for flexible versions, the empty tagged-field section of request header
// v2) and a zero correlation id for the writer to fill in.
func (c *Client) encode(req kmsg.Request, slots chan struct{}) *call {
	p, isProduce := req.(*kmsg.ProduceRequest)
	return &call{
		key:     req.Key(),
		version: req.GetVersion(),
		buf:     c.formatter.AppendRequest(nil, req, 0),
		// Response header v1 (tagged fields) goes with flexible
		// requests, except ApiVersions: its response header stays v0 so
		// a client can read an answer to a version the broker does not
		// know.
		flexibleHeader: req.IsFlexible() && req.Key() != 18,
		noResponse:     isProduce && p.Acks == 0,
		allowance:      c.cfg.RequestTimeout + ownTimeout(req),
		slots:          slots,
		done:           make(chan struct{}),
	}
}

// setCorrelation writes the correlation id into an encoded frame.
func setCorrelation(frame []byte, id int32) {
	binary.BigEndian.PutUint32(frame[corrOffset:], uint32(id))
}

// ownTimeout is how long the broker may legitimately hold the request
// before answering: its timeout field, or a fetch's maximum wait.
func ownTimeout(req kmsg.Request) time.Duration {
	var ms int32
	switch r := req.(type) {
	case *kmsg.FetchRequest:
		ms = r.MaxWaitMillis
	case *kmsg.ShareFetchRequest:
		ms = r.MaxWaitMillis
	case kmsg.TimeoutRequest:
		ms = r.Timeout()
	}
	return time.Duration(max(ms, 0)) * time.Millisecond
}

// decode turns a call's response body into req's typed response.
func decode(node int32, req kmsg.Request, cl *call) (kmsg.Response, error) {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if cl.noResponse {
		return resp, nil
	}
	body := cl.body
	if cl.flexibleHeader {
		r := kbin.Reader{Src: body}
		kmsg.SkipTags(&r)
		if !r.Ok() {
			return nil, fmt.Errorf("interbroker: broker %d: %s v%d response header: truncated tagged fields", node, kmsg.NameForKey(req.Key()), req.GetVersion())
		}
		body = r.Src
	}
	// A broker answers an ApiVersions version it does not know with a v0
	// body carrying UNSUPPORTED_VERSION (error code first).
	if req.Key() == 18 && len(body) >= 2 && int16(binary.BigEndian.Uint16(body)) == kerr.UnsupportedVersion.Code {
		resp.SetVersion(0)
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("interbroker: broker %d: decode %s v%d response: %w", node, kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp, nil
}

// ApiVersions versions tried in turn: v3 (flexible, KIP-511 client
// software fields), then v0, which every broker answers.
var apiVersionsTries = []int16{3, 0}

// handshake asks the broker which versions it serves. It runs before the
// connection is published, so it is the only request on it.
func (cn *conn) handshake(ctx context.Context) (map[int16]kmsg.ApiVersionsResponseApiKey, error) {
	for _, v := range apiVersionsTries {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName = "sluice-interbroker"
		req.ClientSoftwareVersion = softwareVersion
		resp, err := cn.do(ctx, req)
		if err != nil {
			return nil, err
		}
		r := resp.(*kmsg.ApiVersionsResponse)
		if r.ErrorCode == kerr.UnsupportedVersion.Code && v > 0 {
			continue
		}
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return nil, connError(cn.node, cn.addr, fmt.Errorf("ApiVersions v%d: %w", v, err))
		}
		out := make(map[int16]kmsg.ApiVersionsResponseApiKey, len(r.ApiKeys))
		for _, k := range r.ApiKeys {
			out[k.ApiKey] = k
		}
		return out, nil
	}
	return nil, connError(cn.node, cn.addr, fmt.Errorf("ApiVersions v0: %w", kerr.UnsupportedVersion))
}

// setVersion sets req to the highest version both kmsg and the broker
// know, or says why there is none.
func (cn *conn) setVersion(req kmsg.Request) error {
	key := req.Key()
	k, ok := cn.versions[key]
	if !ok {
		return fmt.Errorf("%w: broker %d does not serve %s (key %d)", ErrUnsupportedRequest, cn.node, kmsg.NameForKey(key), key)
	}
	v := min(req.MaxVersion(), k.MaxVersion)
	if v < k.MinVersion {
		return fmt.Errorf("%w: broker %d serves %s v%d-v%d, this client knows up to v%d",
			ErrUnsupportedRequest, cn.node, kmsg.NameForKey(key), k.MinVersion, k.MaxVersion, req.MaxVersion())
	}
	req.SetVersion(v)
	return nil
}

// softwareVersion is ApiVersions' ClientSoftwareVersion: the module
// version when it has one Kafka accepts (KIP-511's pattern), else "devel".
var softwareVersion = func() string {
	ok := regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)
	if bi, found := debug.ReadBuildInfo(); found && ok.MatchString(bi.Main.Version) {
		return bi.Main.Version
	}
	return "devel"
}()

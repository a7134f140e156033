package api

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(58, 0, 0, handleEnvelope) }

// Forwarding (KIP-590). A broker that is not the active controller sends
// the admin requests that change cluster metadata to it whole, inside an
// Envelope carrying the client's principal and address; the controller
// authorizes and answers them as if the client had asked it, against the
// one image every change is validated on. The forwarding broker passes the
// answer back unchanged. When no controller can be reached (none elected,
// or it does not answer), the broker answers the request itself: its own
// controller forwards the resulting records to the quorum leader, which
// validates them again (metadata/forward.go), so nothing is lost but the
// error codes may be less precise.

// forwardable are the keys Kafka's brokers forward to the controller.
var forwardable = map[int16]bool{
	19: true, // CreateTopics
	20: true, // DeleteTopics
	30: true, // CreateAcls
	31: true, // DeleteAcls
	33: true, // AlterConfigs
	37: true, // CreatePartitions
	43: true, // ElectLeaders
	44: true, // IncrementalAlterConfigs
	45: true, // AlterPartitionReassignments
	46: true, // ListPartitionReassignments
	49: true, // AlterClientQuotas
	51: true, // AlterUserScramCredentials
	57: true, // UpdateFeatures
	64: true, // UnregisterBroker
}

// forwardTimeout bounds one forwarded request (the inner request's own
// timeout, where it has one, is enforced by the controller).
const forwardTimeout = 30 * time.Second

// shouldForward reports whether req goes to the active controller.
func (e *Env) shouldForward(req *server.Request) bool {
	return forwardable[req.Key] && !req.Forwarded && e.Forward != nil && req.Body != nil &&
		!e.Meta.QuorumStatus().IsLeader
}

// forward sends req to the active controller in an Envelope and answers
// with its response; on failure to reach one, it answers locally.
func forward(e *Env, req *server.Request) server.Reply {
	return func() *server.Response {
		ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
		defer cancel()
		if req.Conn != nil && req.Conn.Done != nil {
			go func() {
				select {
				case <-req.Conn.Done:
					cancel()
				case <-ctx.Done():
				}
			}()
		}
		resp, err := forwardEnvelope(ctx, e, req)
		if err == nil {
			return &server.Response{Msg: resp}
		}
		e.Log.Debug("forwarding to the controller failed; answering here", "api", kmsg.NameForKey(req.Key), "err", err)
		return registry[req.Key].fn(e, req)()
	}
}

// forwardEnvelope tries a few times: a controller that just lost its
// leadership answers NOT_CONTROLLER, and the next attempt finds the new one.
func forwardEnvelope(ctx context.Context, e *Env, req *server.Request) (kmsg.Response, error) {
	env, err := envelopeFor(req)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		r, err := e.Forward(ctx, env)
		if err == nil {
			er := r.(*kmsg.EnvelopeResponse)
			if er.ErrorCode == 0 {
				return decodeEnvelopeResponse(req, er.ResponseData)
			}
			err = kerr.ErrorForCode(er.ErrorCode)
			if !errors.Is(err, kerr.NotController) {
				return nil, err
			}
		}
		if attempt >= 4 || ctx.Err() != nil {
			return nil, err
		}
		t := time.NewTimer(time.Duration(50<<attempt) * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// envelopeFor wraps req: its header and body as the client sent them
// (version, client id), the client's principal and IP address.
func envelopeFor(req *server.Request) (*kmsg.EnvelopeRequest, error) {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(req.ClientID))
	inner := req.Body
	inner.SetVersion(req.Version)
	framed := f.AppendRequest(nil, inner, req.CorrelationID)
	env := kmsg.NewPtrEnvelopeRequest()
	env.RequestData = framed[4:] // without the size prefix
	env.RequestPrincipal = encodePrincipal(principalOf(req))
	if ip := clientIP(req); ip != nil {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		env.ClientHostAddress = ip
	}
	return env, nil
}

func clientIP(req *server.Request) net.IP {
	if a, ok := req.Remote.(*net.TCPAddr); ok {
		return a.IP
	}
	if h := hostOf(req); h != "" {
		return net.ParseIP(h)
	}
	return nil
}

// encodePrincipal is Kafka's DefaultKafkaPrincipalBuilder serialization:
// a version (int16) then DefaultPrincipalData.
func encodePrincipal(p auth.Principal) []byte {
	d := kmsg.NewDefaultPrincipalData()
	d.Type, d.Name = p.Type, p.Name
	return d.AppendTo(binary.BigEndian.AppendUint16(nil, uint16(d.Version)))
}

func decodePrincipal(b []byte) (auth.Principal, error) {
	if len(b) < 2 {
		return auth.Principal{}, errors.New("principal too short")
	}
	d := kmsg.NewDefaultPrincipalData()
	d.Version = int16(binary.BigEndian.Uint16(b))
	if err := d.ReadFrom(b[2:]); err != nil {
		return auth.Principal{}, err
	}
	return auth.Principal{Type: d.Type, Name: d.Name}, nil
}

// decodeEnvelopeResponse reads the inner response (response header, then
// body) as req's key and version.
func decodeEnvelopeResponse(req *server.Request, b []byte) (kmsg.Response, error) {
	resp := kmsg.ResponseForKey(req.Key)
	if resp == nil || len(b) < 4 {
		return nil, fmt.Errorf("envelope response for key %d: %d bytes", req.Key, len(b))
	}
	resp.SetVersion(req.Version)
	b = b[4:] // correlation id
	if resp.IsFlexible() {
		// The header's tagged fields: always empty from Sluice; skip them.
		n, w := binary.Uvarint(b)
		if w <= 0 || n != 0 {
			return nil, errors.New("envelope response: unexpected header tags")
		}
		b = b[w:]
	}
	if err := resp.ReadFrom(b); err != nil {
		return nil, err
	}
	return resp, nil
}

// handleEnvelope is the controller's end: another broker's forwarded
// request, answered here with the client's principal and address.
func handleEnvelope(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.EnvelopeRequest)
	resp := kmsg.NewPtrEnvelopeResponse()
	fail := func(err *kerr.Error) server.Reply {
		resp.ErrorCode = err.Code
		return reply(resp)
	}
	// Only brokers forward: CLUSTER_ACTION on the cluster, as for the
	// other inter-broker APIs.
	if z := authorizer(e, req); !z.cluster(auth.OpClusterAction) {
		return fail(kerr.ClusterAuthorizationFailed)
	}
	if req.Forwarded {
		return fail(kerr.InvalidRequest) // no envelope inside an envelope
	}
	if !e.Meta.QuorumStatus().IsLeader {
		return fail(kerr.NotController)
	}
	inner, err := server.ParseRequest(r.RequestData)
	if err != nil || !forwardable[inner.Key] {
		return fail(kerr.InvalidRequest)
	}
	if !registry[inner.Key].served(e) || inner.Version < registry[inner.Key].min || inner.Version > registry[inner.Key].max {
		return fail(kerr.UnsupportedVersion)
	}
	p, err := decodePrincipal(r.RequestPrincipal)
	if err != nil {
		return fail(kerr.PrincipalDeserializationFailure)
	}
	var remote net.Addr
	if ip := net.IP(r.ClientHostAddress); len(ip) == net.IPv4len || len(ip) == net.IPv6len {
		remote = &net.TCPAddr{IP: ip}
	}
	conn := &server.ConnInfo{Remote: remote, ClientID: inner.ClientID, Listener: listenerOf(req)}
	if req.Conn != nil {
		conn.Done = req.Conn.Done
	}
	if p != auth.Anonymous {
		conn.User = p.Name
	}
	inner.Remote, inner.Conn, inner.Forwarded = remote, conn, true
	innerReply := registry[inner.Key].fn(e, inner)
	return func() *server.Response {
		out := innerReply()
		if out == nil || out.Msg == nil {
			resp.ErrorCode = kerr.UnknownServerError.Code
			return &server.Response{Msg: resp}
		}
		out.Msg.SetVersion(inner.Version) // the server does this for direct requests
		data := binary.BigEndian.AppendUint32(nil, uint32(inner.CorrelationID))
		if out.Msg.IsFlexible() {
			data = append(data, 0)
		}
		resp.ResponseData = out.Msg.AppendTo(data)
		return &server.Response{Msg: resp}
	}
}

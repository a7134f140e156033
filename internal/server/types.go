package server

import (
	"net"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request is one decoded request.
type Request struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      string
	// Body is nil only for an ApiVersions request whose version we do not
	// support: the handler must still answer it (with v0 and an error).
	Body   kmsg.Request
	Remote net.Addr
	Conn   *ConnInfo
	// Size is the request's frame size in bytes (header and body), what
	// Kafka records against producer_byte_rate.
	Size int32
	// Forwarded marks a request that arrived inside an Envelope from
	// another broker (KIP-590): it is answered here, never forwarded again.
	Forwarded bool
}

// ConnInfo is per-connection state handlers may read.
type ConnInfo struct {
	Remote   net.Addr
	ClientID string
	// Done is closed when the connection ends, so long waits can stop early.
	Done chan struct{}
	// Listener is the name of the listener the connection arrived on
	// (e.g. PLAINTEXT, SASL_PLAINTEXT): answers that name brokers use
	// its advertised endpoint.
	Listener string
	// User is the SASL-authenticated user name and Mechanism the mechanism
	// it authenticated with; both "" on a listener without SASL (Kafka's
	// User:ANONYMOUS). Set once, before any request other than
	// ApiVersions, SaslHandshake and SaslAuthenticate is handled.
	User      string
	Mechanism string
}

// FilePart is a byte range of a file to send with sendfile.
type FilePart struct {
	File *os.File
	Pos  int64
	Len  int64
}

// Splice replaces one records field of a response with file ranges: the
// handler puts Marker as the field's bytes (so kmsg encodes the message, with
// a short length prefix), and the server swaps marker and prefix for the file
// bytes and their true length prefix while writing, never copying them
// through Go memory.
type Splice struct {
	Marker []byte
	Parts  []FilePart
	// Records counts the records in Parts, for metrics (the bytes are
	// never parsed on the way out).
	Records int64
}

// Response is what a handler produced for one request.
type Response struct {
	Msg     kmsg.Response
	Splices []Splice
	// None means write nothing (Produce with acks=0).
	None bool
	// Close asks the server to close the connection after this response.
	Close bool
	// Release, when set, is called once the response bytes were written (or
	// dropped), e.g. to unpin log segments.
	Release func()
	// Throttle > 0 is a quota throttle (KIP-219): the server puts it in the
	// response's ThrottleMillis, writes the response and then reads no
	// further request from the connection until it has passed. For
	// request versions that predate KIP-219 (kmsg's Throttle() reports
	// the throttle as applied before the response) the response itself is
	// held back for that long instead, as Kafka does.
	Throttle time.Duration
	// Raw, when not nil, is written as one size-prefixed frame without a
	// response header instead of Msg: a SASL token after a version 0
	// SaslHandshake (KIP-43's legacy framing).
	Raw []byte
}

// Reply produces the response; it may block (durability wait, fetch
// long-poll). Replies of one connection run one at a time in request order.
type Reply func() *Response

// Handler decodes nothing itself: the server hands it decoded requests.
type Handler interface {
	// Supported reports whether key at version is implemented.
	Supported(key, version int16) bool
	// Handle runs the synchronous part of a request in the read loop.
	Handle(req *Request) Reply
}

// Ready wraps an immediate response as a Reply.
func Ready(r *Response) Reply { return func() *Response { return r } }

// Package interbroker is the client one broker uses to send Kafka requests
// to another: forwarding admin requests to the controller, transaction
// markers, coordinator traffic and, later, replica fetches.
//
// # What it owns
//
// A Client holds one TCP connection per destination broker, addressed by
// node id. Addresses come from the caller's Resolver (the broker passes
// the endpoint each broker registered for inter.broker.listener.name in
// the metadata image); it is consulted before every request, so a broker
// that restarted on a new address is dialed there, and the old connection
// is closed. Requests are kmsg messages; Request sets each one's version
// to the highest both kmsg and the destination know, from the ApiVersions
// answer the connection got when it opened (v3, falling back to v0 on
// UNSUPPORTED_VERSION), and refuses with ErrUnsupportedRequest a key the
// destination does not serve. Frames are built by kmsg's RequestFormatter
// (client id "sluice-interbroker-<node.id>", header v2 for flexible
// versions); a response's header carries tagged fields when its request
// was flexible, except ApiVersions', which is always v0.
//
// # Goroutines
//
// Per connection: one writer, which takes every queued request in turn,
// gives each the next correlation id and writes the batch in one writev,
// and on a tick enforces the request timeout and the idle timeout; and one
// reader, which reads responses and completes them in order (Kafka answers
// a connection's requests in the order it received them, so a response
// whose correlation id is not the oldest request's is a broken stream and
// closes the connection). Per dial: one goroutine that waits out the
// backoff, connects and exchanges ApiVersions under the client's context,
// so no single caller's cancellation aborts a dial others wait for.
// Callers' goroutines encode their requests and decode their responses.
// Close waits for all of them.
//
// # Invariants
//
//   - A request is completed exactly once: with its response, with ctx's
//     error (then its response, if it was written, is read and discarded
//     and the connection stays up for the others), or with the error that
//     killed its connection (ErrConnection, retriable, or ErrClosed).
//   - Requests never written when a connection dies are moved to a new
//     connection (a few times at most); requests already written fail: the
//     destination may have processed them, so retrying is the caller's
//     call.
//   - At most Config.MaxInFlight requests are queued or unanswered per
//     connection (callers wait for a slot, or give up with their ctx); a
//     response larger than Config.MaxResponseBytes is never read into
//     memory (that request gets ErrResponseTooLarge and the connection
//     closes).
//   - At most one dial per destination runs at a time. After a failed dial
//     the next waits BackoffMin doubling to BackoffMax (Kafka's 50 ms and
//     1 s), after a broken connection BackoffMin.
//   - A connection whose oldest request has waited RequestTimeout beyond
//     its own timeout field or fetch wait is declared dead (a stuck peer
//     must not hold requests forever); so is a write blocked that long.
//
// Config.Dial replaces the dialer: the in-process test cluster
// (internal/testcluster) puts every connection on a network it can cut
// and stall.
//
// TLS comes through Config.Dial too: for an SSL inter-broker listener the
// broker passes a dialer that completes the handshake (tlsconf.Client),
// so a connection here is plain bytes either way.
//
// On a SASL inter-broker listener each connection logs in right after
// ApiVersions with Config.SASL (sasl.go), before any caller's request.
//
// Not here: SASL re-authentication (KIP-368), retries of written
// requests, and metrics.
package interbroker

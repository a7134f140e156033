package interbroker

import (
	"errors"
	"fmt"
)

var (
	// ErrConnection means the connection to the destination broker could
	// not be made or broke while the request was in flight. It is
	// retriable: the next request dials again. A request that failed with
	// it may or may not have been processed by the destination (it was
	// written before the break), so only idempotent requests should be
	// retried blindly.
	ErrConnection = errors.New("interbroker: connection to broker failed")

	// ErrUnknownNode means the resolver has no address for the node id
	// (not registered, or no endpoint on the inter-broker listener).
	ErrUnknownNode = errors.New("interbroker: unknown broker")

	// ErrUnsupportedRequest means the destination broker does not serve
	// the request's API key, or no version both sides know.
	ErrUnsupportedRequest = errors.New("interbroker: request not supported by broker")

	// ErrResponseTooLarge means a response's size exceeded
	// Config.MaxResponseBytes; the connection is closed (its stream
	// cannot be trusted) and the other requests on it fail with
	// ErrConnection.
	ErrResponseTooLarge = errors.New("interbroker: response too large")

	// ErrClosed means the Client was closed.
	ErrClosed = errors.New("interbroker: client closed")
)

// connError wraps a cause as a retriable ErrConnection naming the broker.
func connError(node int32, addr string, cause error) error {
	return fmt.Errorf("%w: broker %d at %s: %w", ErrConnection, node, addr, cause)
}

// notSentError marks a failure that happened before the request's bytes
// were handed to the socket: the destination never saw it, so Request
// may safely try again on a fresh connection.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

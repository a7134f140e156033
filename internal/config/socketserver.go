package config

import (
	"strconv"
	"time"
)

// DefaultQueuedMaxRequestBytes is Sluice's queued.max.request.bytes
// default: 512 MiB, five requests of the default socket.request.max.bytes.
// Kafka's default is -1 (unbounded), which lets clients that declare large
// frames take all of the broker's memory; 512 MiB keeps request memory
// (with the Go collector's headroom, about twice that in RSS) within what
// a small host has, while leaving room for many producers' concurrent
// megabyte-sized requests. Hosts with more memory and more producers can
// raise it; -1 restores Kafka's behaviour.
const DefaultQueuedMaxRequestBytes = 512 << 20

// checkIdleMs accepts connections.max.idle.ms: negative disables idle
// closing (as in Kafka's Selector); 0, which would close every connection
// the moment it has nothing in flight, is refused.
func checkIdleMs(key, v string) error {
	if n, _ := strconv.ParseInt(v, 10, 64); n == 0 {
		return invalid(key, v, "0 would close every connection as soon as it is idle; use -1 to keep idle connections or a positive number of milliseconds")
	}
	return nil
}

// validateSocketServer applies Kafka's rule that the request memory pool
// holds at least one request of the largest size.
func (b *Broker) validateSocketServer() error {
	if q := b.QueuedMaxRequestBytes; q > 0 && q < int64(b.SocketRequestMaxBytes) {
		return invalid("queued.max.request.bytes", strconv.FormatInt(q, 10),
			"must be larger or equal to socket.request.max.bytes ("+strconv.Itoa(int(b.SocketRequestMaxBytes))+"), or <= 0 for no bound")
	}
	return nil
}

// ConnectionsMaxIdle is connections.max.idle.ms as a duration, 0 when idle
// connections are kept.
func (b *Broker) ConnectionsMaxIdle() time.Duration {
	if b.ConnectionsMaxIdleMs <= 0 {
		return 0
	}
	return time.Duration(b.ConnectionsMaxIdleMs) * time.Millisecond
}

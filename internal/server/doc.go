// Package server owns the Kafka TCP listener and each connection's life:
// framing, request-header parsing, body decoding through kmsg, and writing
// responses strictly in request order.
//
// Goroutines per connection: a read loop that parses requests and calls the
// Handler synchronously (so appends from pipelined requests reach the log in
// request order), and a write loop that runs each request's Reply in the same
// order and writes its bytes. The channel between them is bounded, which is
// the back-pressure on a client that pipelines faster than we answer.
//
// Memory: a frame's buffer grows as its bytes arrive, each step charged to
// the server's request memory pool (queued.max.request.bytes, mempool.go)
// and released once the response is written; when the pool is exhausted
// read loops stop reading their sockets. A connection idle for
// connections.max.idle.ms is closed (idle.go).
//
// INVARIANT: responses on one connection leave in the order their requests
// arrived; a request that needs no response (Produce acks=0) still takes its
// slot in the order but writes nothing.
package server

package interbroker

import (
	"sync/atomic"
	"time"
)

// call is one request on a connection, from enqueue to completion.
// Ownership: the requesting goroutine fills it and appends it to the
// connection's pending list; from then on only the writer (pending ->
// inflight, patching the correlation id), the reader (popping inflight)
// and die touch its fields, each while it holds the call exclusively.
// finish completes it exactly once and frees its in-flight slot.
type call struct {
	key, version   int16  // copied at encode: req may change once abandoned
	buf            []byte // the encoded frame; released once written
	flexibleHeader bool   // the response header carries tagged fields
	noResponse     bool   // Produce acks=0: Kafka sends nothing back
	allowance      time.Duration
	corr           int32
	deadline       time.Time // set when written: the watchdog's limit

	abandoned atomic.Bool // the caller's ctx ended; drop the response

	finished atomic.Bool
	slots    chan struct{}
	done     chan struct{}
	body     []byte // response body after the header; valid once done
	err      error
}

// finish completes the call (later calls are no-ops) and frees its slot.
func (c *call) finish(body []byte, err error) {
	if !c.finished.CompareAndSwap(false, true) {
		return
	}
	c.body, c.err = body, err
	<-c.slots
	close(c.done)
}

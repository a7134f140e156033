package server

import (
	"math/bits"
	"sync"
)

// Frame buffers. A frame is read as its bytes arrive (conn.readBody): the
// buffer starts at what has been received and grows fourfold while more comes, up
// to the declared size, so a client that declares 100 MB and sends 8 bytes
// costs a kilobyte, not 100 MB.
//
// Buffers of up to 4 MiB come from pools, one per power-of-two size class,
// so a busy producer connection does not allocate (and the runtime does not
// zero, then collect) fresh buffers per request. Larger buffers are never
// pooled: they are left to the garbage collector, whose scavenger returns
// their pages to the OS, so a burst of huge requests does not stay resident
// (a sync.Pool keeps what it holds until two collections have passed, and
// an idle broker collects rarely). Only frames whose decoded request is
// dropped once its response is written go back to a pool: Produce, whose
// record sets are appended to the log in the read loop and not referenced
// afterwards. Other requests' decoded fields (kmsg byte slices point into
// the frame) may be kept by their handlers, so their frames are left to
// the garbage collector. The intermediate buffers of a growing frame are
// the reader's alone and always go back.

const (
	minFrameClass = 10 // 1 KiB: smaller buffers are allocated at their size
	maxFrameClass = 22 // 4 MiB: larger ones are allocated at their size, never pooled
)

var framePools [maxFrameClass + 1]sync.Pool

// frameClass is the size class that holds n bytes, or -1 outside the pooled range.
func frameClass(n int) int {
	if n <= 1<<minFrameClass {
		return -1
	}
	c := bits.Len(uint(n - 1))
	if c > maxFrameClass {
		return -1
	}
	return c
}

// frameCap is the capacity getFrame(n) returns: what a buffer of n bytes
// costs, and what the memory pool is charged for it.
func frameCap(n int) int {
	if c := frameClass(n); c >= 0 {
		return 1 << c
	}
	return n
}

// getFrame returns a buffer of n bytes and capacity frameCap(n), from a
// pool when n is in range. Its contents are garbage: the caller overwrites
// all of it.
func getFrame(n int) []byte {
	c := frameClass(n)
	if c < 0 {
		return make([]byte, n)
	}
	if p, ok := framePools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<c)
}

// putFrame returns a buffer from getFrame. Nothing may use it afterwards.
func putFrame(b []byte) {
	c := frameClass(cap(b))
	if c < 0 || cap(b) != 1<<c {
		return
	}
	b = b[:0]
	framePools[c].Put(&b)
}

// recyclable reports whether a request's frame may be reused once its
// response is written: nothing of the decoded request outlives it.
func recyclable(key int16) bool { return key == 0 } // Produce

package server

import (
	"math/bits"
	"sync"
)

// Request frames are read into pooled buffers, one pool per power-of-two
// size class, so a busy producer connection does not allocate (and the
// runtime does not zero, then collect) a fresh megabyte-sized buffer per
// request. Only frames whose decoded request is dropped once its response
// is written go back to a pool: Produce, whose record sets are appended to
// the log in the read loop and not referenced afterwards. Other requests'
// decoded fields (kmsg byte slices point into the frame) may be kept by
// their handlers, so their frames are left to the garbage collector.

const (
	minFrameClass = 10 // 1 KiB: smaller frames are allocated as before
	maxFrameClass = 27 // 128 MiB
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

// getFrame returns a buffer of n bytes, from a pool when n is in range. Its
// contents are garbage: the caller overwrites all of it.
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

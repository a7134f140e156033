package server

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Returning the memory of a burst of large requests to the OS. Frame
// buffers over 4 MiB are left to the garbage collector (frames.go), but the
// Go runtime keeps freed pages until a collection has run and its scavenger
// has released them, slowly: measured on a broker after 120 concurrent
// 16 MiB produces through the default pool, RSS stayed at 880 MB for two
// minutes (until the runtime's periodic forced collection) and at 490 MB
// after it. So once the pool drains after at least osFreeAfter bytes of
// such buffers were allocated, the server asks the runtime to collect and
// release everything it can (debug.FreeOSMemory), at most once per
// osFreeEvery. A steady load of large requests rarely drains the pool and
// collects on its own; small requests never count.
const (
	osFreeAfter = 64 << 20
	osFreeEvery = 10 * time.Second
)

type osReturner struct {
	big atomic.Int64 // bytes of unpooled frame buffers allocated since the last free

	mu        sync.Mutex
	last      time.Time
	scheduled bool
	free      func() // debug.FreeOSMemory; replaced in tests
}

func newOSReturner() *osReturner { return &osReturner{free: debug.FreeOSMemory} }

// allocated notes an unpooled frame buffer of n bytes.
func (r *osReturner) allocated(n int) {
	if frameClass(n) < 0 && n > 1<<maxFrameClass {
		r.big.Add(int64(n))
	}
}

// drained is called when the pool holds nothing: frees memory if a burst
// of large buffers came before, now or once osFreeEvery has passed since
// the last time.
func (r *osReturner) drained() {
	if r.big.Load() < osFreeAfter {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scheduled {
		return
	}
	r.scheduled = true
	wait := max(0, osFreeEvery-time.Since(r.last))
	time.AfterFunc(wait, func() {
		r.big.Store(0)
		r.free()
		r.mu.Lock()
		r.last, r.scheduled = time.Now(), false
		r.mu.Unlock()
	})
}

package bench

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progress writes what the run is doing to a terminal (one line redrawn
// with carriage returns) or to a log (one line per finished step).
type progress struct {
	w   io.Writer
	tty bool
	mu  sync.Mutex
}

func newProgress(w io.Writer, tty bool) *progress { return &progress{w: w, tty: tty} }

// note prints a finished line.
func (p *progress) note(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// meter counts one phase's progress.
type meter struct {
	records atomic.Int64
	bytes   atomic.Int64
}

// track redraws a live line for m every 250ms until the returned func is
// called. total (records) may be 0 when unknown.
func (p *progress) track(label string, m *meter, total int64) (stop func()) {
	if p.w == nil || !p.tty {
		return func() {}
	}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			el := time.Since(start).Seconds()
			n, b := m.records.Load(), m.bytes.Load()
			line := fmt.Sprintf("%s  %d", label, n)
			if total > 0 {
				line += fmt.Sprintf("/%d (%.0f%%)", total, 100*float64(n)/float64(total))
			}
			line += fmt.Sprintf(" records  %.1f MiB/s  %.0f rec/s  %.0fs", float64(b)/(1<<20)/el, float64(n)/el, el)
			p.mu.Lock()
			fmt.Fprint(p.w, "\r\x1b[K"+line)
			p.mu.Unlock()
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		p.mu.Lock()
		fmt.Fprint(p.w, "\r\x1b[K")
		p.mu.Unlock()
	}
}

// firstErr keeps the first error of a phase and cancels it.
type firstErr struct {
	mu     sync.Mutex
	err    error
	cancel func()
}

func (f *firstErr) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
		f.cancel()
	}
}

func (f *firstErr) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

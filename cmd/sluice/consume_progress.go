package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// progress prints a running record count on stderr when stderr is a
// terminal and stdout is not (e.g. consuming into a file), so long
// operations show they are moving without mixing with the data.
type progress struct {
	n    atomic.Int64
	verb string
	stop chan struct{}
	done chan struct{}
	w    io.Writer
}

// startProgress returns nil (a no-op) unless progress should show.
func startProgress(verb string) *progress {
	if !isTerminal(os.Stderr) || isTerminal(os.Stdout) {
		return nil
	}
	p := &progress{verb: verb, stop: make(chan struct{}), done: make(chan struct{}), w: os.Stderr}
	go p.run()
	return p
}

func (p *progress) add(n int64) {
	if p != nil {
		p.n.Add(n)
	}
}

func (p *progress) run() {
	defer close(p.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-p.stop:
			fmt.Fprintf(p.w, "\r%s %d records in %s\n", p.verb, p.n.Load(), time.Since(start).Round(time.Millisecond))
			return
		case <-t.C:
			fmt.Fprintf(p.w, "\r%s %d records...", p.verb, p.n.Load())
		}
	}
}

func (p *progress) finish() {
	if p != nil {
		close(p.stop)
		<-p.done
	}
}

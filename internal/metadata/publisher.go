package metadata

import (
	"context"
	"log/slog"
	"sync"
)

// publisher hands applied images to the subscribers from its own
// goroutine, in order, each as an (old, new) pair of consecutive
// publications. Raft's apply only queues; Append waits for its index to
// be published, so a local caller still sees its change everywhere when
// Append returns.
type publisher struct {
	logger *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond
	subs    []func(old, new *Image)
	queue   []pubItem
	last    *Image // the newest image handed to the subscribers
	done    uint64 // index of the newest image handed to subscribers (or skipped)
	stopped bool
	exited  chan struct{}
}

type pubItem struct {
	index uint64
	img   *Image // nil: an index that changed nothing
}

func newPublisher(logger *slog.Logger) *publisher {
	p := &publisher{logger: logger, exited: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// start begins publishing after initial, the image the subscribers are
// assumed to have (they subscribe to what follows it).
func (p *publisher) start(initial *Image) {
	p.mu.Lock()
	p.last = initial
	p.mu.Unlock()
	go p.run()
}

func (p *publisher) subscribe(fn func(old, new *Image)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subs = append(p.subs, fn)
}

func (p *publisher) publish(index uint64, img *Image) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		// Before start: the restored checkpoint becomes the base.
		p.done = index
		return
	}
	p.queue = append(p.queue, pubItem{index: index, img: img})
	p.cond.Broadcast()
}

func (p *publisher) skip(index uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		p.done = index
		return
	}
	p.queue = append(p.queue, pubItem{index: index})
	p.cond.Broadcast()
}

func (p *publisher) run() {
	defer close(p.exited)
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for len(p.queue) == 0 && !p.stopped {
			p.cond.Wait()
		}
		if p.stopped {
			return
		}
		item := p.queue[0]
		p.queue = p.queue[1:]
		if item.img != nil {
			old, subs := p.last, p.subs
			p.mu.Unlock()
			for _, fn := range subs {
				fn(old, item.img)
			}
			p.mu.Lock()
			p.last = item.img
		}
		p.done = item.index
		p.cond.Broadcast()
	}
}

func (p *publisher) published() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// wait blocks until index is published (or ctx ends, or the publisher
// stops).
func (p *publisher) wait(ctx context.Context, index uint64) error {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.done < index && !p.stopped && ctx.Err() == nil {
		p.cond.Wait()
	}
	if p.done >= index {
		return nil
	}
	if p.stopped {
		return ErrClosed
	}
	return ErrTimeout
}

func (p *publisher) close() {
	p.mu.Lock()
	p.stopped = true
	started := p.last != nil
	p.cond.Broadcast()
	p.mu.Unlock()
	if started {
		<-p.exited
	}
}

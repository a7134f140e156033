package main

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// catchUp decides when `consume --exit` is done: every partition read has
// answered a fetch with nothing more below its high watermark. Without a
// group the partitions are known up front; with one they are the
// assignment, which may change while consuming.
type catchUp struct {
	on     bool
	mu     sync.Mutex
	parts  map[string]map[int32]bool // topic → partition → caught up
	gotAny bool                      // an assignment (or the fixed set) exists
}

func newCatchUp(on bool) *catchUp {
	return &catchUp{on: on, parts: map[string]map[int32]bool{}}
}

// want fixes the partitions read without a group: the given ones or all n.
func (c *catchUp) want(topic string, partitions []int32, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[int32]bool{}
	if len(partitions) == 0 {
		for p := range n {
			m[int32(p)] = false
		}
	}
	for _, p := range partitions {
		m[p] = false
	}
	c.parts[topic], c.gotAny = m, true
}

func (c *catchUp) assigned(_ context.Context, _ *kgo.Client, as map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t, ps := range as {
		if c.parts[t] == nil {
			c.parts[t] = map[int32]bool{}
		}
		for _, p := range ps {
			c.parts[t][p] = false
		}
	}
	c.gotAny = true
}

func (c *catchUp) revoked(_ context.Context, _ *kgo.Client, rs map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t, ps := range rs {
		for _, p := range ps {
			delete(c.parts[t], p)
		}
	}
}

// idle reports whether a poll that found nothing means the end: once the
// partitions are known (the group has assigned some), an empty wait of a
// few fetch rounds does.
func (c *catchUp) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.on && c.gotAny
}

// observe notes what fs says of each partition's position and reports
// whether every partition is caught up.
func (c *catchUp) observe(fs kgo.Fetches) bool {
	if !c.on {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		m := c.parts[p.Topic]
		if _, ok := m[p.Partition]; !ok || p.Err != nil {
			return
		}
		if n := len(p.Records); n == 0 {
			m[p.Partition] = true
		} else {
			m[p.Partition] = p.Records[n-1].Offset+1 >= p.HighWatermark
		}
	})
	if !c.gotAny {
		return false
	}
	for _, m := range c.parts {
		for _, done := range m {
			if !done {
				return false
			}
		}
	}
	return true
}

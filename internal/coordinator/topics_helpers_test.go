package coordinator

import (
	"crypto/sha256"
	"maps"
	"slices"
)

// memTopics is a snapshot of a memBackend's topics; IDs derive from names.
type memTopics struct {
	version int64
	parts   map[string]int32
}

func topicID(name string) uuid {
	sum := sha256.Sum256([]byte(name))
	var id uuid
	copy(id[:], sum[:16])
	return id
}

func (t memTopics) Version() int64 { return t.version }

func (t memTopics) ByName(name string) (TopicInfo, bool) {
	n, ok := t.parts[name]
	if !ok {
		return TopicInfo{}, false
	}
	return TopicInfo{Name: name, ID: topicID(name), Partitions: n}, true
}

func (t memTopics) ByID(id uuid) (TopicInfo, bool) {
	for name := range t.parts {
		if topicID(name) == id {
			return t.ByName(name)
		}
	}
	return TopicInfo{}, false
}

func (t memTopics) Names() []string { return slices.Sorted(maps.Keys(t.parts)) }

func (b *memBackend) Topics() Topics {
	b.mu.Lock()
	defer b.mu.Unlock()
	return memTopics{version: b.topicsVersion, parts: maps.Clone(b.topics)}
}

// setTopic creates or resizes a topic (n > 0) or deletes it (n == 0).
func (b *memBackend) setTopic(name string, n int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n == 0 {
		delete(b.topics, name)
	} else {
		b.topics[name] = n
	}
	b.topicsVersion++
}

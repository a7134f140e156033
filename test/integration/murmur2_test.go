package integration

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// murmur2 is the 32-bit MurmurHash2 variant Kafka's default partitioner
// uses (seed 0x9747b28c), written from the algorithm's description.
func murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(data)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// kafkaPartition is Kafka's default choice for a keyed record:
// toPositive(murmur2(key)) % partitions.
func kafkaPartition(key []byte, partitions int32) int32 {
	return (murmur2(key) & 0x7fffffff) % partitions
}

// TestMurmur2 pins the hash to Kafka's published values and to the
// partitions franz-go's Kafka-compatible partitioner chooses, so the
// end-to-end partition checks compare against a known-good reference.
func TestMurmur2(t *testing.T) {
	known := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	}
	for in, want := range known {
		if got := murmur2([]byte(in)); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
	p := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for i := 0; i < 2000; i++ {
		key := []byte(fmt.Sprintf("key-%d", i))
		for _, n := range []int{1, 6, 7} {
			want := int32(p.Partition(&kgo.Record{Key: key}, n))
			if got := kafkaPartition(key, int32(n)); got != want {
				t.Fatalf("partition(%q, %d) = %d, franz-go says %d", key, n, got, want)
			}
		}
	}
}

package coordinator

import (
	"math"
	"unicode/utf16"
)

// javaStringHash is Java's String.hashCode: s[0]*31^(n-1) + ... + s[n-1]
// over UTF-16 code units with int32 overflow. Kafka decodes group ids from
// UTF-8, so hashing the same code units here puts every group in the
// partition Kafka would choose.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = 31*h + hi
			h = 31*h + lo
			continue
		}
		h = 31*h + r
	}
	return h
}

// PartitionFor is the __consumer_offsets partition of groupID among n, as
// Kafka computes it: Utils.abs(hashCode) % n. Utils.abs is Math.abs except
// that Integer.MIN_VALUE maps to 0; it is not the partitioner's
// toPositive (hash & 0x7fffffff), which differs for negative hashes.
func PartitionFor(groupID string, n int32) int32 {
	if n <= 0 {
		return 0
	}
	h := javaStringHash(groupID)
	switch {
	case h == math.MinInt32:
		h = 0
	case h < 0:
		h = -h
	}
	return h % n
}

package api

import "github.com/twmb/franz-go/pkg/kmsg"

// TagInControlledShutdown is a Sluice tagged field (KIP-482) of
// DescribeCluster's broker entries: present, with the one byte 1, when the
// broker is in controlled shutdown (moving its leaderships away before it
// stops). Kafka has no field for that state; clients skip tagged fields
// they do not know, so a Kafka client reads Kafka's answer, and `sluice
// cluster info` shows the broker as shutting down. The number is far above
// the ones Kafka assigns (they count up from 0).
const TagInControlledShutdown uint32 = 10000

// markShuttingDown sets TagInControlledShutdown on rb.
func markShuttingDown(rb *kmsg.DescribeClusterResponseBroker, shuttingDown bool) {
	if shuttingDown {
		rb.UnknownTags.Set(TagInControlledShutdown, []byte{1})
	}
}

// InControlledShutdown reports whether a DescribeCluster broker entry
// carries TagInControlledShutdown.
func InControlledShutdown(rb *kmsg.DescribeClusterResponseBroker) bool {
	in := false
	rb.UnknownTags.Each(func(k uint32, v []byte) {
		if k == TagInControlledShutdown && len(v) == 1 && v[0] == 1 {
			in = true
		}
	})
	return in
}

package api

import "github.com/twmb/franz-go/pkg/kmsg"

// produceFailed reports whether any partition of resp has an error: an
// acks=0 request that has one gets its connection closed instead of the
// answer it does not wait for (Kafka's KafkaApis.handleProduceRequest).
func produceFailed(resp *kmsg.ProduceResponse) bool {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return true
			}
		}
	}
	return false
}

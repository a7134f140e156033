package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Throughput is the process's record bytes in (Produce) and out (Fetch)
// so far, summed over the live topics' counters (a deleted topic's bytes
// leave the sum). Read by the web console's sampler, never on a request
// path: it walks every topic.
func Throughput() (in, out float64) {
	topics.Range(func(_, v any) bool {
		c := v.(*topicCounters)
		in += counterValue(c.bytesIn)
		out += counterValue(c.bytesOut)
		return true
	})
	return in, out
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if c.Write(&m) != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}

package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MemoryPoolStat is the request memory pool (queued.max.request.bytes) of
// one broker at scrape time.
type MemoryPoolStat struct {
	Used     int64         // bytes of requests held
	Limit    int64         // <= 0: unbounded
	Depleted time.Duration // total time connections waited for memory
}

var (
	memPoolAvailable = prometheus.NewDesc("kafka_network_socketserver_memorypoolavailable",
		"Bytes left in the request memory pool, queued.max.request.bytes minus the bytes held (Kafka's MemoryPoolAvailable); absent when the pool is unbounded.", nil, nil)
	memPoolUsed = prometheus.NewDesc("kafka_network_socketserver_memorypoolused",
		"Bytes of requests held in memory: read or being read and not yet answered (Kafka's MemoryPoolUsed).", nil, nil)
	memPoolDepleted = prometheus.NewDesc("kafka_server_socket_server_metrics_memorypooldepletedtime_seconds_total",
		"Time connections spent not reading their sockets because the request memory pool was exhausted (Kafka's MemoryPoolDepletedTimeTotal).", nil, nil)
)

var memPoolDescs = []*prometheus.Desc{memPoolAvailable, memPoolUsed, memPoolDepleted}

func collectMemoryPool(ch chan<- prometheus.Metric, stat func() MemoryPoolStat) {
	if stat == nil {
		return
	}
	s := stat()
	if s.Limit > 0 {
		ch <- prometheus.MustNewConstMetric(memPoolAvailable, prometheus.GaugeValue, float64(s.Limit-s.Used))
	}
	ch <- prometheus.MustNewConstMetric(memPoolUsed, prometheus.GaugeValue, float64(s.Used))
	ch <- prometheus.MustNewConstMetric(memPoolDepleted, prometheus.CounterValue, s.Depleted.Seconds())
}

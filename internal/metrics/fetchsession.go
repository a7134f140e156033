package metrics

import "github.com/prometheus/client_golang/prometheus"

// The fetch session cache (KIP-227, internal/api/fetch_session.go), under
// Kafka's FetchSessionCache names.
var (
	fetchSessions = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kafka_server_fetchsessioncache_numincrementalfetchsessions",
		Help: "Open fetch sessions (Kafka's NumIncrementalFetchSessions).",
	})
	fetchSessionParts = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kafka_server_fetchsessioncache_numincrementalfetchpartitionscached",
		Help: "Partitions held by every open fetch session together (Kafka's NumIncrementalFetchPartitionsCached).",
	})
	fetchSessionEvictions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kafka_server_fetchsessioncache_incrementalfetchsessionevictions_total",
		Help: "Idle fetch sessions evicted to make room for a new one (Kafka's IncrementalFetchSessionEvictionsPerSec).",
	})
)

func init() { Registry.MustRegister(fetchSessions, fetchSessionParts, fetchSessionEvictions) }

// FetchSessionsChanged moves the session gauges by sessions and parts.
func FetchSessionsChanged(sessions, parts int) {
	fetchSessions.Add(float64(sessions))
	fetchSessionParts.Add(float64(parts))
}

// FetchSessionEvicted counts an eviction.
func FetchSessionEvicted() { fetchSessionEvictions.Inc() }

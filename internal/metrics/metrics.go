// Package metrics holds the broker's Prometheus collectors and the HTTP
// handler serving them with /healthz and /readyz. It is a leaf package:
// the broker, the server and the log call into it, never the reverse.
//
// Names follow Kafka's JMX MBeans as flattened by Prometheus' JMX exporter
// (kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec →
// kafka_server_brokertopicmetrics_bytesin_total), with Prometheus units:
// counters end in _total, durations are histograms in seconds. The list is
// in docs/METRICS.md.
//
// Hot paths do one map lookup (sync.Map, no lock) and atomic adds per
// partition of a request: never anything per record.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry holds every Sluice metric plus the Go runtime and process ones.
var Registry = prometheus.NewRegistry()

var (
	bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_server_brokertopicmetrics_bytesin_total",
		Help: "Bytes of record batches appended by Produce requests, per topic (Kafka's BytesInPerSec).",
	}, []string{"topic"})
	messagesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_server_brokertopicmetrics_messagesin_total",
		Help: "Records appended by Produce requests, per topic (Kafka's MessagesInPerSec).",
	}, []string{"topic"})
	bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_server_brokertopicmetrics_bytesout_total",
		Help: "Bytes of record batches sent in Fetch responses, per topic (Kafka's BytesOutPerSec).",
	}, []string{"topic"})
	messagesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_server_brokertopicmetrics_messagesout_total",
		Help: "Records sent in Fetch responses, per topic (from batch headers; Kafka has no such MBean, named after MessagesInPerSec).",
	}, []string{"topic"})
	produceRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_server_brokertopicmetrics_totalproducerequests_total",
		Help: "Produce requests per topic (Kafka's TotalProduceRequestsPerSec).",
	}, []string{"topic"})
	failedProduce = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_server_brokertopicmetrics_failedproducerequests_total",
		Help: "Partitions of Produce requests answered with an error, per topic (Kafka's FailedProduceRequestsPerSec).",
	}, []string{"topic"})
	fetchRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_server_brokertopicmetrics_totalfetchrequests_total",
		Help: "Fetch requests per topic (Kafka's TotalFetchRequestsPerSec).",
	}, []string{"topic"})

	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_network_requestmetrics_requests_total",
		Help: "Requests answered, per API (Kafka's RequestsPerSec).",
	}, []string{"request"})
	requestTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kafka_network_requestmetrics_totaltime_seconds",
		Help:    "Time from reading a request to writing its response, per API (Kafka's TotalTimeMs); includes fetch long polls and produce fsync waits.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14), // 100µs .. ~15s
	}, []string{"request"})

	flushTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kafka_log_logflushstats_logflush_seconds",
		Help:    "Duration of partition log fsyncs (Kafka's LogFlushRateAndTimeMs).",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16), // 50µs .. ~1.6s
	})

	// The metadata log's commit: today one node appends and fsyncs it
	// (a one-voter quorum); with the raft quorum this is raft's commit.
	metadataCommit = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kafka_server_raft_metrics_commit_latency_seconds",
		Help:    "Time to commit a batch of metadata records: append, fsync, apply (Kafka's raft-metrics commit-latency).",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16), // 50µs .. ~1.6s
	})

	// The leader's ISR changes, counted when the controller commits its
	// AlterPartition (Kafka's IsrShrinksPerSec, IsrExpandsPerSec and
	// FailedIsrUpdatesPerSec are meters, i.e. rates: a counter is the
	// Prometheus form, rate() gives the meter).
	isrShrinks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kafka_server_replicamanager_isrshrinks_total",
		Help: "ISR shrinks committed for partitions this broker leads (Kafka's IsrShrinksPerSec).",
	})
	isrExpands = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kafka_server_replicamanager_isrexpands_total",
		Help: "ISR expansions committed for partitions this broker leads (Kafka's IsrExpandsPerSec).",
	})
	failedISRUpdates = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kafka_server_replicamanager_failedisrupdates_total",
		Help: "AlterPartition proposals of this broker's leaders that failed or were refused (Kafka's FailedIsrUpdatesPerSec).",
	})

	// SASL authentications per listener (Kafka's socket-server-metrics
	// successful-authentication-total and failed-authentication-total).
	authOK = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_server_socket_server_metrics_successful_authentication_total",
		Help: "Connections that authenticated with SASL, per listener (Kafka's successful-authentication-total).",
	}, []string{"listener"})
	authFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_server_socket_server_metrics_failed_authentication_total",
		Help: "SASL authentications that failed (unsupported mechanism, bad credentials), per listener (Kafka's failed-authentication-total).",
	}, []string{"listener"})
)

// Authentication counts one SASL authentication on listener.
func Authentication(listener string, ok bool) {
	if ok {
		authOK.WithLabelValues(listener).Inc()
	} else {
		authFailed.WithLabelValues(listener).Inc()
	}
}

func init() {
	Registry.MustRegister(bytesIn, messagesIn, bytesOut, messagesOut, produceRequests, failedProduce, fetchRequests,
		requests, requestTime, flushTime, metadataCommit, isrShrinks, isrExpands, failedISRUpdates, authOK, authFailed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// topicCounters caches one topic's counters so hot paths skip the label hash.
type topicCounters struct {
	bytesIn, messagesIn, bytesOut, messagesOut, produceReqs, failedProduce, fetchReqs prometheus.Counter
}

var topics sync.Map // topic name → *topicCounters

func forTopic(topic string) *topicCounters {
	if c, ok := topics.Load(topic); ok {
		return c.(*topicCounters)
	}
	c := &topicCounters{
		bytesIn: bytesIn.WithLabelValues(topic), messagesIn: messagesIn.WithLabelValues(topic),
		bytesOut: bytesOut.WithLabelValues(topic), messagesOut: messagesOut.WithLabelValues(topic),
		produceReqs:   produceRequests.WithLabelValues(topic),
		failedProduce: failedProduce.WithLabelValues(topic), fetchReqs: fetchRequests.WithLabelValues(topic),
	}
	actual, _ := topics.LoadOrStore(topic, c)
	return actual.(*topicCounters)
}

// ForgetTopic drops a deleted topic's series.
func ForgetTopic(topic string) {
	for _, v := range []*prometheus.CounterVec{bytesIn, messagesIn, bytesOut, messagesOut, produceRequests, failedProduce, fetchRequests} {
		v.DeleteLabelValues(topic)
	}
	forgetTopicStorage(topic)
	topics.Delete(topic) // after: a racing forTopic re-creates live series
}

// Produced counts one partition of a Produce request: its appended bytes
// and records, or a failure.
func Produced(topic string, bytes, records int64, failed bool) {
	c := forTopic(topic)
	c.produceReqs.Inc()
	if failed {
		c.failedProduce.Inc()
		return
	}
	c.bytesIn.Add(float64(bytes))
	c.messagesIn.Add(float64(records))
}

// Fetched counts one partition of a Fetch response, its record bytes and
// records.
func Fetched(topic string, bytes, records int64) {
	c := forTopic(topic)
	c.fetchReqs.Inc()
	if bytes > 0 {
		c.bytesOut.Add(float64(bytes))
	}
	if records > 0 {
		c.messagesOut.Add(float64(records))
	}
}

// requestLabels caches per-API children: index is the API key.
var requestLabels sync.Map // int16 → *requestSeries

type requestSeries struct {
	count prometheus.Counter
	time  prometheus.Observer
}

// Request counts one answered request of API name (key) and its latency.
func Request(key int16, name string, d time.Duration) {
	s, ok := requestLabels.Load(key)
	if !ok {
		s, _ = requestLabels.LoadOrStore(key, &requestSeries{
			count: requests.WithLabelValues(name), time: requestTime.WithLabelValues(name),
		})
	}
	rs := s.(*requestSeries)
	rs.count.Inc()
	rs.time.Observe(d.Seconds())
}

// ISRShrunk counts one committed ISR shrink of a partition this broker
// leads.
func ISRShrunk() { isrShrinks.Inc() }

// ISRExpanded counts one committed ISR expansion.
func ISRExpanded() { isrExpands.Inc() }

// ISRUpdateFailed counts one AlterPartition proposal that failed.
func ISRUpdateFailed() { failedISRUpdates.Inc() }

// Fsync records the duration of one log fsync.
func Fsync(d time.Duration) { flushTime.Observe(d.Seconds()) }

// MetadataCommit records the duration of one metadata commit.
func MetadataCommit(d time.Duration) { metadataCommit.Observe(d.Seconds()) }

var purgatory = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "kafka_server_delayedoperationpurgatory_purgatorysize",
	Help: "Produce and Fetch requests read but not yet answered: fetch long polls and produces waiting for their fsync (Kafka's PurgatorySize).",
}, []string{"delayedOperation"})

var (
	purgatoryProduce = purgatory.WithLabelValues("Produce")
	purgatoryFetch   = purgatory.WithLabelValues("Fetch")
)

func init() { Registry.MustRegister(purgatory) }

// Pending returns the in-flight gauge for API key, or nil when the key
// is not tracked (only Produce and Fetch are).
func Pending(key int16) prometheus.Gauge {
	switch key {
	case 0:
		return purgatoryProduce
	case 1:
		return purgatoryFetch
	}
	return nil
}

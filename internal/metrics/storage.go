package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Storage health: offline log directories (disk full, I/O errors) and the
// scrubber's verification of closed segments (docs/RELIABILITY.md, 4 and 5).
var (
	offlineLogDirs = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kafka_log_logmanager_offlinelogdirectorycount",
		Help: "Log directories offline after a write or fsync error, until a probe write succeeds and their logs are healed (Kafka's OfflineLogDirectoryCount).",
	})
	storageErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_log_storage_errors_total",
		Help: "I/O errors (ENOSPC, EIO, ...) on a write, fsync or segment creation that failed a log; each failed log counts once until it is healed.",
	})
	corruptBatches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_log_corrupt_batches_total",
		Help: "Damaged batches (CRC-32C mismatch, unreadable header, impossible offsets) the scrubber found in closed segments, each counted once, per partition.",
	}, []string{"topic", "partition"})
	scrubBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_log_scrub_bytes_total",
		Help: "Bytes of closed segments the scrubber has verified.",
	})
	scrubPasses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_log_scrub_passes_total",
		Help: "Completed scrubber passes over every closed segment of every partition.",
	})
)

func init() {
	Registry.MustRegister(offlineLogDirs, storageErrors, corruptBatches, scrubBytes, scrubPasses)
}

// LogDirOffline moves the offline log directory gauge: +1 when a
// directory goes offline, -1 when it is back (or closed while offline).
func LogDirOffline(offline bool) {
	if offline {
		offlineLogDirs.Inc()
	} else {
		offlineLogDirs.Dec()
	}
}

// StorageError counts one I/O error that failed a log.
func StorageError() { storageErrors.Inc() }

// CorruptBatch counts one damaged batch the scrubber found.
func CorruptBatch(topic string, partition int32) {
	corruptBatches.WithLabelValues(topic, strconv.Itoa(int(partition))).Inc()
}

// Scrubbed counts bytes the scrubber verified.
func Scrubbed(n int64) { scrubBytes.Add(float64(n)) }

// ScrubPass counts one completed scrubber pass.
func ScrubPass() { scrubPasses.Inc() }

// forgetTopicStorage drops a deleted topic's storage series.
func forgetTopicStorage(topic string) {
	corruptBatches.DeletePartialMatch(prometheus.Labels{"topic": topic})
}

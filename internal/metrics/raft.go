package metrics

import (
	"math"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// The metadata quorum's metrics under Kafka's raft-metrics names
// (kafka.server:type=raft-metrics). Kafka's *-rate meters are counters
// here: rate() over them is Kafka's figure.
var (
	raftLeader = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kafka_server_raft_metrics_current_leader",
		Help: "Node id of the metadata quorum's leader as this node knows it (-1 when unknown).",
	})
	raftEpoch = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kafka_server_raft_metrics_current_epoch",
		Help: "The metadata quorum's current epoch (raft term).",
	})
	raftHW = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kafka_server_raft_metrics_high_watermark",
		Help: "The metadata log's high watermark: the last committed raft index.",
	})
	raftCommitAvg = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kafka_server_raft_metrics_commit_latency_avg",
		Help: "Average time in milliseconds to commit a metadata proposal (exponentially weighted over recent commits).",
	}, func() float64 { return math.Float64frombits(commitAvgBits.Load()) })
	raftAppendRecords = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kafka_server_raft_metrics_append_records_total",
		Help: "Entries appended to the metadata log by this node (rate() is Kafka's append-records-rate).",
	})
	raftFetchRecords = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kafka_server_raft_metrics_fetch_records_total",
		Help: "Entries this node received from the quorum leader (rate() is Kafka's fetch-records-rate).",
	})
)

var commitAvgBits atomic.Uint64

func init() {
	raftLeader.Set(-1)
	Registry.MustRegister(raftLeader, raftEpoch, raftHW, raftCommitAvg, raftAppendRecords, raftFetchRecords)
}

// RaftState publishes the quorum's leader, epoch and high watermark as this
// node sees them (leader 0 = unknown).
func RaftState(leader, epoch, hw float64) {
	if leader == 0 {
		leader = -1
	}
	raftLeader.Set(leader)
	raftEpoch.Set(epoch)
	raftHW.Set(hw)
}

// RaftCommitMs folds one commit's latency into the average.
func RaftCommitMs(ms float64) {
	for {
		old := commitAvgBits.Load()
		avg := math.Float64frombits(old)
		next := ms
		if avg != 0 {
			next = avg*0.9 + ms*0.1
		}
		if commitAvgBits.CompareAndSwap(old, math.Float64bits(next)) {
			return
		}
	}
}

// RaftAppended counts entries this node appended as leader; RaftFetched
// counts entries it received from a leader.
func RaftAppended(n int) { raftAppendRecords.Add(float64(n)) }

// RaftFetched counts entries received from the leader.
func RaftFetched(n int) { raftFetchRecords.Add(float64(n)) }
